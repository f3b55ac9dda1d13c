package dev.oqp.common.config;

import java.time.Duration;

/**
 * Failed key checks allowed per client IP ({@code auth.rate_limit}); beyond, 429 with {@code Retry-After}.
 *
 * @param maxFailures failures allowed within {@code window}; default 10; always >= 1
 * @param window      default 60s; always positive
 */
public record RateLimitConfig(int maxFailures, Duration window) {

    public static final RateLimitConfig DEFAULT = new RateLimitConfig(10, Duration.ofSeconds(60));

    public RateLimitConfig {
        Checks.range("maxFailures", maxFailures, 1, Integer.MAX_VALUE);
        Checks.positive("window", window);
    }
}
