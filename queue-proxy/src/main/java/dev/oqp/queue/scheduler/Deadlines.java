package dev.oqp.queue.scheduler;

import dev.oqp.common.config.Tier;

/**
 * The arithmetic of a ticket's own wait limit ({@link Ticket#maxWait}, the client's {@code X-Queue-Max-Wait}); see
 * {@link Scheduler}, "Deadlines". Stateless: the scheduler calls it under its lock.
 */
final class Deadlines {
    private Deadlines() {
    }

    /**
     * How long the ticket may wait: its tier's {@code max_wait}, or its own limit when it has one and it is sooner; at
     * least 1 ns, so that a limit of 0 is decided by admission's prediction, not by the expiry in its dispatch pass.
     */
    static long limitNanos(long tierMaxWaitNanos, long ownMaxWaitNanos) {
        return ownMaxWaitNanos >= 0 ? Math.max(1, Math.min(tierMaxWaitNanos, ownMaxWaitNanos)) : tierMaxWaitNanos;
    }

    /**
     * The refusal of a ticket whose deadline cannot be (or was not) met: the overflow status, and the predicted wait
     * as {@code Retry-After}, rounded up to whole seconds and clamped to 1 s – the tier's {@code max_wait} (a client
     * told to come back later than its tier would ever let it wait learns nothing more), and never past
     * {@value Scheduler#MAX_RETRY_AFTER_SECONDS} s.
     */
    static Rejection rejection(Tier tier, int statusCode, long etaNanos, long tierMaxWaitNanos) {
        long seconds = (long) Math.ceil(etaNanos / 1e9);
        long cap = Math.min(Scheduler.MAX_RETRY_AFTER_SECONDS, (long) Math.ceil(tierMaxWaitNanos / 1e9));
        long retryAfter = Math.max(1, Math.min(cap, seconds));
        return new Rejection(Rejection.Reason.DEADLINE, tier, statusCode, retryAfter, false);
    }
}
