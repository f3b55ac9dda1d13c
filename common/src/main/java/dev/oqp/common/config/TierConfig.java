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
 * @param reservedSlots slots of the fleet kept for this tier's requests against every other tier's: another tier's
 *                 request may take one only while nothing of this tier waits, and at most {@code borrow} of them
 *                 (docs/operations.md, "Capacity for interactive work"); default 0 = none
 * @param borrow   how many of the reserved slots other tiers may hold at once while nothing of this tier waits;
 *                 0..{@code reservedSlots}; default {@code reservedSlots} (fully work-conserving); 0 = the reserve
 *                 always stays free for this tier
 */
public record TierConfig(int maxDepth, Duration maxWait, int highWatermarkPct, int reservedSlots, int borrow) {

    public static final int DEFAULT_HIGH_WATERMARK_PCT = 80;

    public TierConfig {
        Checks.range("maxDepth", maxDepth, 0, Integer.MAX_VALUE);
        Checks.positive("maxWait", maxWait);
        Checks.range("highWatermarkPct", highWatermarkPct, 1, 100);
        Checks.range("reservedSlots", reservedSlots, 0, Integer.MAX_VALUE);
        Checks.range("borrow", borrow, 0, reservedSlots);
    }

    /** A tier without reserved slots. */
    public TierConfig(int maxDepth, Duration maxWait, int highWatermarkPct) {
        this(maxDepth, maxWait, highWatermarkPct, 0, 0);
    }

    /** A tier with the default high watermark and no reserved slots. */
    public TierConfig(int maxDepth, Duration maxWait) {
        this(maxDepth, maxWait, DEFAULT_HIGH_WATERMARK_PCT);
    }
}
