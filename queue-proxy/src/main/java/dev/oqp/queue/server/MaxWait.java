package dev.oqp.queue.server;

import java.time.Duration;

import dev.oqp.common.config.Durations;

/**
 * The client's {@code X-Queue-Max-Wait}: the longest it accepts to wait in the queue, in the config file's duration
 * syntax ({@code 30s}, {@code 1500ms}, {@code 2m}, or whole seconds). The scheduler caps it by the tier's
 * {@code max_wait} and refuses at once a request whose predicted wait is longer (see the scheduler's "Deadlines").
 */
final class MaxWait {
    /** The answer to a value that is not a duration of at least 0. */
    static final String INVALID = "X-Queue-Max-Wait must be a duration such as 30s, 1500ms, 2m, or whole seconds";

    private MaxWait() {
    }

    /**
     * The header's value in nanoseconds, or -1 when absent or blank.
     *
     * @throws IllegalArgumentException when it is present and not a duration of at least 0
     */
    static long nanos(String header) {
        if (header == null || header.isBlank()) {
            return -1;
        }
        Duration d;
        try {
            d = Durations.parse(header.strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(INVALID, e);
        }
        if (d.isNegative()) {
            throw new IllegalArgumentException(INVALID);
        }
        // Past ~292 years of nanoseconds it means "no limit of its own" anyway: capped by the tier's max_wait.
        return d.compareTo(Duration.ofDays(365)) > 0 ? Duration.ofDays(365).toNanos() : d.toNanos();
    }
}
