package dev.oqp.queue.scheduler;

/**
 * A monotonic clock in nanoseconds, injected so that tests advance time by hand.
 * Only differences between two readings are meaningful.
 */
@FunctionalInterface
public interface Ticks {

    /** The production clock. */
    Ticks SYSTEM = System::nanoTime;

    /** The current reading; never decreases. */
    long nanos();
}
