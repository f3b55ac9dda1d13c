package dev.oqp.common.config;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/** Invariant checks for the compact constructors; the loader reports the same rules with YAML paths first. */
final class Checks {

    private Checks() {
    }

    static int range(String name, int value, int min, int max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: "
                    + (max == Integer.MAX_VALUE ? ">= " + min : min + "-" + max) + ")");
        }
        return value;
    }

    static long positive(String name, long value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: > 0)");
        }
        return value;
    }

    static Duration positive(String name, Duration value) {
        Objects.requireNonNull(value, name);
        if (value.isNegative() || value.isZero()) {
            throw new IllegalArgumentException(name + ": " + Durations.format(value) + " (expected: > 0)");
        }
        return value;
    }

    static Duration nonNegative(String name, Duration value) {
        Objects.requireNonNull(value, name);
        if (value.isNegative()) {
            throw new IllegalArgumentException(name + ": " + Durations.format(value) + " (expected: >= 0)");
        }
        return value;
    }

    static Map<String, String> headers(Map<String, String> headers) {
        Map<String, String> copy = new LinkedHashMap<>();
        Objects.requireNonNull(headers, "headers").forEach((k, v) -> copy.put(
                Objects.requireNonNull(k, "header name"), Objects.requireNonNull(v, "header value")));
        return Collections.unmodifiableMap(copy);
    }
}
