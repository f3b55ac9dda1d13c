package dev.oqp.common.config;

import java.time.Duration;

/**
 * Limits of one queue tier ({@code queue.high}, {@code queue.normal}, {@code queue.low}).
 *
 * @param maxDepth requests that may wait in this tier; when full, new ones get {@code overflow_status_code};
 *                 0 = this tier never holds a waiting request (dispatched at once if a slot is free, else
 *                 rejected); always >= 0
 * @param maxWait  a request waiting longer is answered 503; always positive
 */
public record TierConfig(int maxDepth, Duration maxWait) {

    public TierConfig {
        Checks.range("maxDepth", maxDepth, 0, Integer.MAX_VALUE);
        Checks.positive("maxWait", maxWait);
    }
}
