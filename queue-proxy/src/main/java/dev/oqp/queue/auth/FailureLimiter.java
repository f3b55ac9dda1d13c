package dev.oqp.queue.auth;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import dev.oqp.common.config.RateLimitConfig;

/**
 * Failed key checks per client address ({@code auth.rate_limit}). An address with {@code max_failures} failures in
 * its current window is blocked (429 with {@code Retry-After}) until that window ends. A window opens at the first
 * failure after the previous one ended and lasts {@code window}; a successful key check does not reset the count,
 * so a legitimate client sharing an address cannot clear an attacker's failures.
 *
 * <p>Time is passed in by the caller as {@link System#nanoTime()}-style nanoseconds; only differences are used.
 *
 * <p>Memory is bounded: at most {@code maxTrackedAddresses} addresses are tracked. When a new address must be
 * tracked and the table is full, entries whose window has ended are dropped first; if it is still full, unblocked
 * entries are dropped, fewest failures first and then oldest window first, down to nine tenths of the capacity so
 * that the sweep is amortised over many insertions. A blocked entry is never dropped before its window ends, so a
 * flood of new addresses cannot reset a blocked attacker, and an address close to its limit outlives a flood of
 * addresses with a failure or two each; whatever the flood evicts loses at most {@code max_failures - 1} counted
 * failures, no more than the flooder could spend from each of its own addresses anyway. When every tracked address
 * is blocked, a new address is not tracked until the earliest of their windows ends (the limiter fails open for new
 * addresses rather than blocking everyone), and until then new addresses cost a lookup, not a sweep.
 *
 * <p>Thread-safe: lookups are lock-free, and only inserting a new address takes a lock.
 */
public final class FailureLimiter {

    /** The default bound on tracked addresses. */
    public static final int DEFAULT_MAX_TRACKED_ADDRESSES = 10_000;

    private static final long NANOS_PER_SECOND = 1_000_000_000L;

    private final int maxFailures;
    private final long windowNanos;
    private final int maxTrackedAddresses;
    private final Map<String, Window> windows = new ConcurrentHashMap<>();
    private final Object insertLock = new Object();
    /** Guarded by insertLock: a sweep found only blocked addresses, none of whose windows ends before noRoomUntil. */
    private boolean fullOfBlocked;
    private long noRoomUntil;

    /** A limiter tracking at most {@link #DEFAULT_MAX_TRACKED_ADDRESSES} addresses. */
    public FailureLimiter(RateLimitConfig config) {
        this(config, DEFAULT_MAX_TRACKED_ADDRESSES);
    }

    /** A limiter tracking at most {@code maxTrackedAddresses} (>= 1) addresses. */
    public FailureLimiter(RateLimitConfig config, int maxTrackedAddresses) {
        if (maxTrackedAddresses < 1) {
            throw new IllegalArgumentException("maxTrackedAddresses: " + maxTrackedAddresses + " (expected: >= 1)");
        }
        this.maxFailures = config.maxFailures();
        this.windowNanos = config.window().toNanos();
        this.maxTrackedAddresses = maxTrackedAddresses;
    }

    /** True when {@code ip} has had {@code max_failures} failed key checks in its current window. */
    public boolean blocked(String ip, long nowNanos) {
        Window window = windows.get(ip);
        return window != null && window.blocked(nowNanos);
    }

    /** Counts one failed key check (missing, malformed or unknown key) from {@code ip}. */
    public void recordFailure(String ip, long nowNanos) {
        while (true) {
            Window window = windows.get(ip);
            if (window == null) {
                window = insert(ip, nowNanos);
                if (window == null) {
                    return;
                }
            }
            if (window.fail(nowNanos)) {
                return;
            }
            // The window was retired by a sweep between the lookup and the count: count in a fresh one.
        }
    }

    /**
     * Whole seconds until {@code ip}'s window ends, rounded up and at least 1: the {@code Retry-After} value for a
     * blocked address (1 when the address is not blocked).
     */
    public long retryAfterSeconds(String ip, long nowNanos) {
        Window window = windows.get(ip);
        long remaining = window == null ? 0 : window.remainingNanos(nowNanos);
        return Math.max(1, (remaining + NANOS_PER_SECOND - 1) / NANOS_PER_SECOND);
    }

    /** How many addresses are tracked now (never more than the bound given at construction). */
    public int trackedAddresses() {
        return windows.size();
    }

    /** The window for a new address, or {@code null} when the table is full of blocked addresses. */
    private Window insert(String ip, long nowNanos) {
        synchronized (insertLock) {
            Window window = windows.get(ip);
            if (window != null) {
                return window;
            }
            if (windows.size() >= maxTrackedAddresses) {
                if (fullOfBlocked && nowNanos - noRoomUntil < 0) {
                    return null;
                }
                sweep(nowNanos);
                if (windows.size() >= maxTrackedAddresses) {
                    return null;
                }
            }
            window = new Window(nowNanos);
            windows.put(ip, window);
            return window;
        }
    }

    /** Called with the insert lock held and the table full. */
    private void sweep(long nowNanos) {
        fullOfBlocked = false;
        windows.values().removeIf(window -> window.retireIfEnded(nowNanos));
        if (windows.size() < maxTrackedAddresses) {
            return;
        }
        int target = Math.min(maxTrackedAddresses - 1, maxTrackedAddresses * 9 / 10);
        record Candidate(String ip, Window window, int failures, long start) {
        }
        List<Candidate> candidates = new ArrayList<>();
        windows.forEach((ip, window) -> {
            synchronized (window) {
                candidates.add(new Candidate(ip, window, window.failures, window.start));
            }
        });
        // Counts and starts are snapshotted so that concurrent failures cannot reorder the sort.
        candidates.sort(Comparator.comparingInt(Candidate::failures).thenComparingLong(Candidate::start));
        long earliestStart = nowNanos;
        for (Candidate candidate : candidates) {
            if (windows.size() <= target) {
                break;
            }
            if (candidate.window().retireIfUnblocked(nowNanos)) {
                windows.remove(candidate.ip(), candidate.window());
            } else if (candidate.start() - earliestStart < 0) {
                earliestStart = candidate.start();
            }
        }
        // With no room, new addresses skip the sweep until the first blocked window ends, so a flood of
        // new addresses against a table of blocked ones costs no sorting.
        fullOfBlocked = windows.size() >= maxTrackedAddresses;
        noRoomUntil = earliestStart + windowNanos;
    }

    /**
     * One address's current window: when it opened and how many failures it has seen. A retired window has left
     * the table and refuses further failures, so none is counted into a window nobody can see.
     */
    private final class Window {

        private long start;
        private int failures;
        private boolean retired;

        Window(long nowNanos) {
            this.start = nowNanos;
        }

        /** Counts a failure; false when this window was retired and the caller must look up the address again. */
        synchronized boolean fail(long nowNanos) {
            if (retired) {
                return false;
            }
            if (nowNanos - start >= windowNanos) {
                start = nowNanos;
                failures = 0;
            }
            if (failures < maxFailures) {
                failures++;
            }
            return true;
        }

        synchronized boolean blocked(long nowNanos) {
            return failures >= maxFailures && nowNanos - start < windowNanos;
        }

        synchronized boolean retireIfEnded(long nowNanos) {
            retired = nowNanos - start >= windowNanos;
            return retired;
        }

        synchronized boolean retireIfUnblocked(long nowNanos) {
            retired = !blocked(nowNanos);
            return retired;
        }

        synchronized long remainingNanos(long nowNanos) {
            return blocked(nowNanos) ? start + windowNanos - nowNanos : 0;
        }
    }
}
