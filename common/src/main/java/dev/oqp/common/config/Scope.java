package dev.oqp.common.config;

import java.util.Locale;

/** What a key may do, each scope including the ones before it: {@code read < inference < management}. */
public enum Scope {
    READ, INFERENCE, MANAGEMENT;

    /** True when a key of this scope may call an endpoint that requires {@code required}. */
    public boolean allows(Scope required) {
        return ordinal() >= required.ordinal();
    }

    /** The name as written in YAML. */
    public String yamlName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
