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
 * @param paused             what a new request to a paused tier gets: held until resumed or its max_wait (default),
 *                           or refused at once with 503 (the Python tool's behaviour)
 * @param earlyHeadersAfter  a streamed request waiting this long in the queue gets its 200 and headers at once
 *                           (OpenAI-style SSE routes always, native NDJSON routes where the key or port opts in),
 *                           so that an intermediary's header timeout cannot cut it; default 10s; 0 = never
 * @param heartbeat          while such a request keeps waiting, an SSE comment with its position is sent this often;
 *                           default 15s; always positive
 */
public record QueueConfig(TierConfig high, TierConfig normal, TierConfig low, int overflowStatusCode,
        Duration aging, long maxQueuedBytes, Paused paused, Duration earlyHeadersAfter, Duration heartbeat) {

    /** {@code queue.paused}: what a new request to a paused tier gets. */
    public enum Paused {
        /** Queued like any other; it waits until the tier is resumed or its max_wait passes. */
        HOLD,
        /** Answered 503 at once; what already waits stays queued. */
        REFUSE
    }

    public static final Paused DEFAULT_PAUSED = Paused.HOLD;

    public static final TierConfig DEFAULT_HIGH = new TierConfig(50, Duration.ofSeconds(120));
    public static final TierConfig DEFAULT_NORMAL = new TierConfig(100, Duration.ofSeconds(300));
    public static final TierConfig DEFAULT_LOW = new TierConfig(200, Duration.ofSeconds(600));
    public static final int DEFAULT_OVERFLOW_STATUS_CODE = 503;
    public static final Duration DEFAULT_AGING = Duration.ofSeconds(60);
    public static final long DEFAULT_MAX_QUEUED_BYTES = 512L << 20;
    public static final Duration DEFAULT_EARLY_HEADERS_AFTER = Duration.ofSeconds(10);
    public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(15);

    public QueueConfig {
        Objects.requireNonNull(high, "high");
        Objects.requireNonNull(normal, "normal");
        Objects.requireNonNull(low, "low");
        if (overflowStatusCode != 503 && overflowStatusCode != 429) {
            throw new IllegalArgumentException("overflowStatusCode: " + overflowStatusCode + " (expected: 503 or 429)");
        }
        Checks.nonNegative("aging", aging);
        Checks.positive("maxQueuedBytes", maxQueuedBytes);
        Objects.requireNonNull(paused, "paused");
        Checks.nonNegative("earlyHeadersAfter", earlyHeadersAfter);
        Checks.positive("heartbeat", heartbeat);
    }

    /** With the default early headers and heartbeat. */
    public QueueConfig(TierConfig high, TierConfig normal, TierConfig low, int overflowStatusCode, Duration aging,
            long maxQueuedBytes, Paused paused) {
        this(high, normal, low, overflowStatusCode, aging, maxQueuedBytes, paused, DEFAULT_EARLY_HEADERS_AFTER,
                DEFAULT_HEARTBEAT);
    }

    /** With {@code paused: hold}. */
    public QueueConfig(TierConfig high, TierConfig normal, TierConfig low, int overflowStatusCode, Duration aging,
            long maxQueuedBytes) {
        this(high, normal, low, overflowStatusCode, aging, maxQueuedBytes, DEFAULT_PAUSED);
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
