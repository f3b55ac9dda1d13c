package dev.oqp.queue.scheduler;

/**
 * What a dispatched request holds while it runs upstream: a global slot, a client slot and a host slot.
 *
 * <p>{@link #release()} never blocks. A dispatched ticket's listener receives the lease inside a
 * {@link Grant}, which releases it once however often the grant is released.
 */
public interface Lease {

    /** Gives back everything this lease holds; may be called from any thread. */
    void release();
}
