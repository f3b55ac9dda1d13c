package dev.oqp.common.config;

import java.time.Duration;

/**
 * Limits of one queue tier ({@code queue.high}, {@code queue.normal}, {@code queue.low}).
 *
 * @param maxDepth requests that may wait in this tier; when full, new ones get {@code overflow_status_code};
 *                 0 = this tier never holds a waiting request (dispatched at once if a slot is free, else
 *                 rejected); always >= 0
 * @param maxWait  a request waiting longer is answered 503; always positive
 * @param highWatermarkPct the {@code queue.high_watermark} webhook fires when this tier's depth reaches this percent
 *                 of {@code maxDepth}; 1-100, default 80
 */
public record TierConfig(int maxDepth, Duration maxWait, int highWatermarkPct) {

    public static final int DEFAULT_HIGH_WATERMARK_PCT = 80;

    public TierConfig {
        Checks.range("maxDepth", maxDepth, 0, Integer.MAX_VALUE);
        Checks.positive("maxWait", maxWait);
        Checks.range("highWatermarkPct", highWatermarkPct, 1, 100);
    }

    /** A tier with the default high watermark. */
    public TierConfig(int maxDepth, Duration maxWait) {
        this(maxDepth, maxWait, DEFAULT_HIGH_WATERMARK_PCT);
    }
}
