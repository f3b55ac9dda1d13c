package dev.oqp.common.config;

import static dev.oqp.common.config.Values.or;

import java.time.Duration;

/** Binds {@code queue:} and its three tiers; a tier's absent keys keep that tier's own defaults. */
final class QueueBinder {

    /** The keys of {@code queue:}. */
    enum Key { HIGH, NORMAL, LOW, OVERFLOW_STATUS_CODE, AGING, MAX_QUEUED_BYTES, PAUSED, EARLY_HEADERS_AFTER, HEARTBEAT }

    /** The keys of one tier ({@code queue.high}, {@code queue.normal}, {@code queue.low}). */
    enum TierKey { MAX_DEPTH, MAX_WAIT, HIGH_WATERMARK_PCT, RESERVED_SLOTS, BORROW }

    private QueueBinder() {
    }

    static QueueConfig bind(Node node, Binding b) {
        Node.Mapping<Key> m = node.mapping(Key.class);
        TierConfig high = tier(m.get(Key.HIGH), QueueConfig.DEFAULT_HIGH, b);
        TierConfig normal = tier(m.get(Key.NORMAL), QueueConfig.DEFAULT_NORMAL, b);
        TierConfig low = tier(m.get(Key.LOW), QueueConfig.DEFAULT_LOW, b);
        int overflow = QueueConfig.DEFAULT_OVERFLOW_STATUS_CODE;
        Node overflowNode = m.get(Key.OVERFLOW_STATUS_CODE);
        if (!overflowNode.absent()) {
            Integer code = overflowNode.integer(100, 599);
            if (code != null && code != 503 && code != 429) {
                overflowNode.problem(code + " (expected: 503 or 429)");
            } else if (code != null) {
                overflow = code;
            }
        }
        Duration aging = or(m.get(Key.AGING).duration(true), QueueConfig.DEFAULT_AGING);
        long maxQueuedBytes = or(m.get(Key.MAX_QUEUED_BYTES).size(), QueueConfig.DEFAULT_MAX_QUEUED_BYTES);
        QueueConfig.Paused paused = or(m.get(Key.PAUSED).choice(QueueConfig.Paused.class), QueueConfig.DEFAULT_PAUSED);
        Duration earlyHeadersAfter = or(m.get(Key.EARLY_HEADERS_AFTER).duration(true),
                QueueConfig.DEFAULT_EARLY_HEADERS_AFTER);
        Duration heartbeat = or(m.get(Key.HEARTBEAT).duration(false), QueueConfig.DEFAULT_HEARTBEAT);
        int overflowCode = overflow;
        return b.build(node.path, () -> new QueueConfig(high, normal, low, overflowCode, aging, maxQueuedBytes, paused,
                earlyHeadersAfter, heartbeat));
    }

    private static TierConfig tier(Node node, TierConfig defaults, Binding b) {
        Node.Mapping<TierKey> m = node.mapping(TierKey.class);
        int maxDepth = or(m.get(TierKey.MAX_DEPTH).integer(0, Integer.MAX_VALUE), defaults.maxDepth());
        Duration maxWait = or(m.get(TierKey.MAX_WAIT).duration(false), defaults.maxWait());
        int watermark = or(m.get(TierKey.HIGH_WATERMARK_PCT).integer(1, 100), defaults.highWatermarkPct());
        int reserved = or(m.get(TierKey.RESERVED_SLOTS).integer(0, Integer.MAX_VALUE), 0);
        Node borrowNode = m.get(TierKey.BORROW);
        Integer borrowed = borrowNode.integer(0, Integer.MAX_VALUE);
        if (borrowed != null && borrowed > reserved) {
            borrowNode.problem(borrowed + " (expected: at most reserved_slots, " + reserved + ")");
            borrowed = reserved;
        }
        // Work-conserving by default: every reserved slot may be lent while nothing of the tier waits.
        int borrow = or(borrowed, reserved);
        return b.build(node.path, () -> new TierConfig(maxDepth, maxWait, watermark, reserved, borrow));
    }
}
