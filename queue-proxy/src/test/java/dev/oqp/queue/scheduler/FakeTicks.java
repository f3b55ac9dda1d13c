package dev.oqp.queue.scheduler;

import java.time.Duration;

/** A clock advanced by hand. */
final class FakeTicks implements Ticks {
    private long now = 1_000_000_000L;

    @Override
    public synchronized long nanos() {
        return now;
    }

    synchronized void advance(Duration d) {
        now += d.toNanos();
    }
}
