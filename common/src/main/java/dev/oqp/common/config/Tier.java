package dev.oqp.common.config;

import java.util.Locale;

/** A queue priority tier, highest first; written {@code high}, {@code normal}, {@code low}. */
public enum Tier {
    HIGH, NORMAL, LOW;

    /** The lower of the two tiers (used to cap a requested tier by a key's ceiling). */
    public Tier min(Tier other) {
        return ordinal() >= other.ordinal() ? this : other;
    }

    /** The name as written in YAML and headers. */
    public String yamlName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
