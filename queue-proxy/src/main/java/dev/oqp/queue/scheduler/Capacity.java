package dev.oqp.queue.scheduler;

/**
 * The world outside the queue: the global cap, the per-client {@code max_concurrent} caps and the host
 * slots able to serve a model.
 *
 * <p>{@link #tryAcquire} is called by the {@link Scheduler} while it holds its internal lock, so an
 * implementation must not block and must not call back into the scheduler. When capacity grows for a
 * reason other than a released lease (a host became healthy, a cap was raised), call
 * {@link Scheduler#capacityChanged()}.
 */
@FunctionalInterface
public interface Capacity<L extends Lease> {

    /**
     * Reserves everything {@code ticket} needs to run now: a global slot, a slot of its client and a slot
     * on a host able to serve its model.
     *
     * @return the reservation, all or nothing; {@code null} when it is not possible now (nothing is held then)
     */
    L tryAcquire(Ticket<L> ticket);

    /**
     * {@code ticket} left the queue without being dispatched (expired, cancelled, flushed, or refused after it was
     * tried at admission), or its tier was paused (it is tried again once resumed); called under the lock like
     * {@link #tryAcquire}. A capacity that reserves for waiting
     * tickets (coordination across replicas) gives back what it held for it; the default holds nothing.
     */
    default void forget(Ticket<L> ticket) {
    }

    /**
     * The slots requests run in at once (the global cap), for the wait estimates ({@link Scheduler#standing});
     * 0 when unknown (the estimate then counts the leases in flight).
     */
    default int slots() {
        return 0;
    }

    /**
     * The slots free now, for the reserved-slot gauge ({@code oqp_reserved_slots_borrowed}); by default
     * {@link #slots()} less the scheduler's {@code leasesInFlight}.
     */
    default int free(int leasesInFlight) {
        return slots() - leasesInFlight;
    }
}
