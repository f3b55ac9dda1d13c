package dev.oqp.queue.limits;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The state of one shared feature ({@code what}: {@code rate_limit}, {@code usage_write}, {@code usage_read})
 * whose backend may be unreachable: one log line when an outage starts and one when it ends, and a count of every
 * decision taken without the backend ({@code oqp_coordination_degraded_decisions_total{what}}). While it lasts,
 * the backend is tried again at most every {@value #PROBE_MILLIS} ms, so that requests do not each wait for a
 * timeout.
 */
final class Outage {
    private static final Logger LOG = LoggerFactory.getLogger(Outage.class);
    static final long PROBE_MILLIS = 1000;

    private final String what;
    private final String effect;
    private final Runnable counter;
    private final AtomicBoolean down = new AtomicBoolean();
    private volatile long lastFailureNanos;

    /**
     * @param effect  what the outage means, for its log line
     * @param counter counts one degraded decision
     */
    Outage(String what, String effect, Runnable counter) {
        this.what = what;
        this.effect = effect;
        this.counter = counter;
    }

    /** True while an outage is on and the backend was tried less than {@value #PROBE_MILLIS} ms ago. */
    boolean skipBackend() {
        return down.get() && System.nanoTime() - lastFailureNanos < TimeUnit.MILLISECONDS.toNanos(PROBE_MILLIS);
    }

    /** The backend failed or did not answer in time: an outage starts (logged once) or goes on. */
    void failed(Throwable failure) {
        lastFailureNanos = System.nanoTime();
        if (down.compareAndSet(false, true)) {
            LOG.atWarn().addKeyValue("what", what).addKeyValue("reason", describe(failure))
                    .log("coordination backend unreachable for " + what + ": " + effect);
        }
    }

    /** The backend answered: an outage, if any, ends (logged once). */
    void answered() {
        if (down.compareAndSet(true, false)) {
            LOG.atInfo().addKeyValue("what", what).log("coordination backend reachable again for " + what
                    + ": shared state in use");
        }
    }

    /** Counts one decision taken without the backend. */
    void degradedDecision() {
        counter.run();
    }

    boolean down() {
        return down.get();
    }

    /** A failure in a few words: its root's type and message (Lettuce names host and port only, never a password). */
    static String describe(Throwable failure) {
        Throwable root = failure;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage();
        return root.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }
}
