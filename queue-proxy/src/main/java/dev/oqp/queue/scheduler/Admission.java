package dev.oqp.queue.scheduler;

/**
 * What {@link Scheduler#submit} decided. The matching {@link Ticket.Listener} callback is delivered too
 * (possibly on another thread calling into the scheduler, possibly just after {@code submit} returns).
 */
public enum Admission {
    /** Dispatched at once; {@link Ticket.Listener#dispatched} follows. */
    DISPATCHED,
    /** Waiting in the queue; exactly one later outcome follows. */
    QUEUED,
    /** Refused; {@link Ticket.Listener#rejected} follows. */
    REJECTED
}
