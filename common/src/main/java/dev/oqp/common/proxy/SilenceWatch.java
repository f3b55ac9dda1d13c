package dev.oqp.common.proxy;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * Starts a {@link ClientCloseWatcher} only for exchanges whose upstream stays silent: most requests are
 * answered within milliseconds, and registering read interest on every client connection would cost a
 * selector wake-up per request. One sweep every {@value #SWEEP_MILLIS} ms starts the watchers of
 * exchanges sent more than {@value #GRACE_MILLIS} ms ago and still without an answer, so a client that
 * leaves during a model load is noticed well within a second.
 */
final class SilenceWatch extends AbstractLifeCycle implements Runnable {
    static final long GRACE_MILLIS = 200;
    static final long SWEEP_MILLIS = 100;

    private final Scheduler scheduler;
    private final Set<Exchange> waiting = ConcurrentHashMap.newKeySet();

    SilenceWatch(Scheduler scheduler) {
        this.scheduler = scheduler;
    }

    @Override
    protected void doStart() throws Exception {
        super.doStart();
        scheduler.schedule(this, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** The exchange's request has been sent and no answer has come yet. */
    void awaiting(Exchange exchange) {
        waiting.add(exchange);
    }

    /** The upstream answered, or the exchange ended: no watching needed any more. */
    void answered(Exchange exchange) {
        waiting.remove(exchange);
    }

    /**
     * Bytes flow to the client from now on (or the exchange ended): a failed write tells that it left, and a
     * watcher kept longer would mistake a client closing right after the last byte for one that left early.
     * Returns the exchange's watcher (stopped), or null.
     */
    ClientCloseWatcher done(Exchange exchange) {
        answered(exchange);
        ClientCloseWatcher watcher = exchange.clientCloseWatcher();
        if (watcher != null) {
            watcher.stop();
        }
        return watcher;
    }

    @Override
    public void run() {
        if (!isRunning()) {
            return;
        }
        try {
            long cutoff = System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(GRACE_MILLIS);
            for (Exchange exchange : waiting) {
                if (exchange.upstreamStartNanos() - cutoff < 0 && waiting.remove(exchange)) {
                    ClientCloseWatcher watcher = exchange.clientCloseWatcher();
                    if (watcher != null) {
                        watcher.start();
                    }
                }
            }
        } finally {
            scheduler.schedule(this, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
        }
    }
}
