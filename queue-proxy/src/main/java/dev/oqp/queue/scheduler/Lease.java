package dev.oqp.queue.scheduler;

/**
 * What a dispatched request holds while it runs upstream: a global slot, a client slot and a host slot.
 *
 * <p>{@link #release()} is idempotent: only the first call gives anything back, later calls do nothing.
 * It never blocks. The lease handed to {@link Ticket.Listener#dispatched} is the scheduler's own wrapper:
 * releasing it releases the {@link Capacity} lease once, records the service time for
 * {@code Retry-After} estimates and dispatches whatever the freed capacity now allows.
 */
public interface Lease {

    /** Gives back everything this lease holds; safe to call any number of times from any thread. */
    void release();

    /**
     * The lease {@link Capacity} handed out, behind any wrapper the scheduler put around it: the proxy
     * reads from it which host to send the request to.
     */
    default Lease unwrap() {
        return this;
    }
}
