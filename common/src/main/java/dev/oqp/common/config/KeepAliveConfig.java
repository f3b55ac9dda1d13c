package dev.oqp.common.config;

import java.util.Objects;

/**
 * Ollama {@code keep_alive} injected into inference requests ({@code keep_alive:}).
 *
 * @param defaultValue the {@code default} key: "" (default) = inject nothing; else a Go duration
 *                     ({@code 10m}, {@code 1h30m}, {@code -1m}, {@code 0}) or whole seconds ({@code 300}, {@code -1}),
 *                     kept as written; see {@link #jsonValue()}
 * @param override     false (default): only requests without {@code keep_alive} get it; true: replace the client's
 */
public record KeepAliveConfig(String defaultValue, boolean override) {

    public static final KeepAliveConfig DEFAULT = new KeepAliveConfig("", false);

    public KeepAliveConfig {
        Objects.requireNonNull(defaultValue, "defaultValue");
    }

    /** True when a value is configured. */
    public boolean enabled() {
        return !defaultValue.isEmpty();
    }

    /**
     * The value to put in a request body: a {@code Long} for whole seconds (Ollama reads a JSON number as
     * seconds), else the duration string; {@code null} when not {@link #enabled()}.
     */
    public Object jsonValue() {
        if (!enabled()) {
            return null;
        }
        return defaultValue.matches("-?\\d{1,18}") ? (Object) Long.parseLong(defaultValue) : defaultValue;
    }
}
