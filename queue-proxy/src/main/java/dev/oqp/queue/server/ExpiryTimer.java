package dev.oqp.queue.server;

import java.util.concurrent.TimeUnit;

import dev.oqp.queue.scheduler.Scheduler;

/**
 * The one timer of the queue (pipeline step 8: a request past its tier's {@code max_wait} is answered at
 * its deadline, not when something else happens to look): armed for the earliest deadline, it calls
 * {@link Scheduler#expireDue()} and re-arms itself with the delay that returns. An earlier deadline
 * replaces the armed task; a later one leaves it.
 */
final class ExpiryTimer implements Scheduler.Alarm {
    private final org.eclipse.jetty.util.thread.Scheduler timer;
    private volatile Scheduler<?> queue;
    // Guarded by this.
    private org.eclipse.jetty.util.thread.Scheduler.Task armed;
    private long armedAt;

    ExpiryTimer(org.eclipse.jetty.util.thread.Scheduler timer) {
        this.timer = timer;
    }

    void attach(Scheduler<?> queue) {
        this.queue = queue;
    }

    @Override
    public synchronized void wakeUpIn(long nanos) {
        long at = System.nanoTime() + nanos;
        if (armed != null) {
            if (at - armedAt >= 0) {
                return;
            }
            armed.cancel();
        }
        armedAt = at;
        armed = timer.schedule(this::fire, nanos, TimeUnit.NANOSECONDS);
    }

    private void fire() {
        synchronized (this) {
            armed = null;
        }
        Scheduler<?> q = queue;
        if (q == null) {
            return;
        }
        long next = q.expireDue();
        if (next >= 0) {
            wakeUpIn(next);
        }
    }
}
