package dev.oqp.queue.scheduler;

import java.util.Locale;

import dev.oqp.common.config.Tier;

/**
 * Why a ticket was refused, and what to answer.
 *
 * @param reason            why
 * @param tier              the tier the ticket asked for
 * @param statusCode        {@code queue.overflow_status_code} (503 or 429) when the queue is full or a deadline cannot
 *                          be met; 503 when draining
 * @param retryAfterSeconds value for the {@code Retry-After} header; at least 1
 *                          (see {@link Scheduler} for the estimate)
 * @param announce          true for the first refusal of its reason (full tier, or byte budget) in its tier since
 *                          the tier last admitted a ticket: the one a webhook reports, so a full queue is reported
 *                          once, not once per refused request
 */
public record Rejection(Reason reason, Tier tier, int statusCode, long retryAfterSeconds, boolean announce) {

    /** The cause of a rejection. */
    public enum Reason {
        /** The tier already holds {@code max_depth} waiting tickets (always the case for {@code max_depth: 0}). */
        TIER_FULL,
        /** Queueing the body would exceed {@code max_queued_bytes} (all tiers together). */
        BYTES_FULL,
        /** The scheduler is draining: nothing new is accepted. */
        DRAINING,
        /**
         * The ticket's own wait limit ({@link Ticket#maxWait}) is shorter than the wait predicted for it at admission,
         * or passed while it waited ({@link Ticket.Listener#missedDeadline}).
         */
        DEADLINE;

        /** Lower-case name for metric labels ({@code oqp_queue_rejected_total{reason}}). */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }
}
