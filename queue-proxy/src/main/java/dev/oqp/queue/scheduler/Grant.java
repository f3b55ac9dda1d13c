package dev.oqp.queue.scheduler;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What a dispatched ticket's listener receives: the lease {@link Capacity#tryAcquire} granted, typed as the
 * capacity made it ({@link #lease()}: whoever dispatched a request to a host reads the host from it without a
 * cast), and the one way to give it back. {@link #release()} is idempotent: only the first call releases the
 * capacity's lease, records the service time for {@code Retry-After} estimates and dispatches whatever the
 * freed capacity now allows; later calls do nothing. It never blocks.
 */
public final class Grant<L extends Lease> implements Lease {
    private final AtomicBoolean released = new AtomicBoolean();
    private final L lease;
    private final Runnable onRelease;

    Grant(L lease, Runnable onRelease) {
        this.lease = lease;
        this.onRelease = onRelease;
    }

    /** The capacity's own lease (release it through this grant, never directly). */
    public L lease() {
        return lease;
    }

    @Override
    public void release() {
        if (!released.compareAndSet(false, true)) {
            return;
        }
        try {
            lease.release();
        } finally {
            onRelease.run();
        }
    }
}
