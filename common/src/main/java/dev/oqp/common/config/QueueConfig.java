package dev.oqp.common.config;

import java.time.Duration;
import java.util.Objects;

/**
 * The three-tier priority queue ({@code queue:}).
 *
 * @param high               default {@code {max_depth: 50, max_wait: 120s}}
 * @param normal             default {@code {max_depth: 100, max_wait: 300s}}
 * @param low                default {@code {max_depth: 200, max_wait: 600s}}
 * @param overflowStatusCode status when a tier is full: 503 (default) or 429
 * @param aging              a waiting request rises one tier per interval; default 60s; 0 = strict priority, no aging
 * @param maxQueuedBytes     request bodies held in the queue, all tiers together; default 512 MiB; always positive
 */
public record QueueConfig(TierConfig high, TierConfig normal, TierConfig low, int overflowStatusCode,
        Duration aging, long maxQueuedBytes) {

    public static final TierConfig DEFAULT_HIGH = new TierConfig(50, Duration.ofSeconds(120));
    public static final TierConfig DEFAULT_NORMAL = new TierConfig(100, Duration.ofSeconds(300));
    public static final TierConfig DEFAULT_LOW = new TierConfig(200, Duration.ofSeconds(600));
    public static final int DEFAULT_OVERFLOW_STATUS_CODE = 503;
    public static final Duration DEFAULT_AGING = Duration.ofSeconds(60);
    public static final long DEFAULT_MAX_QUEUED_BYTES = 512L << 20;

    public QueueConfig {
        Objects.requireNonNull(high, "high");
        Objects.requireNonNull(normal, "normal");
        Objects.requireNonNull(low, "low");
        if (overflowStatusCode != 503 && overflowStatusCode != 429) {
            throw new IllegalArgumentException("overflowStatusCode: " + overflowStatusCode + " (expected: 503 or 429)");
        }
        Checks.nonNegative("aging", aging);
        Checks.positive("maxQueuedBytes", maxQueuedBytes);
    }

    /** The limits of {@code tier}. */
    public TierConfig tier(Tier tier) {
        switch (tier) {
            case HIGH:
                return high;
            case NORMAL:
                return normal;
            default:
                return low;
        }
    }
}
