package dev.oqp.common.config;

import java.util.Objects;
import java.util.Set;

/**
 * Logging of both binaries ({@code logging:}).
 *
 * @param level     {@code trace|debug|info|warn|error}, lowercase; default {@code info}
 * @param format    {@link Format#JSON} lines (default) or {@link Format#TEXT}
 * @param accessLog one line per request; default true
 */
public record LoggingConfig(String level, Format format, boolean accessLog) {

    /** {@code json | text}. */
    public enum Format { JSON, TEXT }

    /** The accepted levels. */
    public static final Set<String> LEVELS = Set.of("trace", "debug", "info", "warn", "error");

    public static final LoggingConfig DEFAULT = new LoggingConfig("info", Format.JSON, true);

    public LoggingConfig {
        if (!LEVELS.contains(Objects.requireNonNull(level, "level"))) {
            throw new IllegalArgumentException("level: " + level + " (expected one of: trace, debug, info, warn, error)");
        }
        Objects.requireNonNull(format, "format");
    }
}
