package dev.oqp.queue.admin;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import dev.oqp.common.config.Tier;
import dev.oqp.queue.scheduler.Standing;

/**
 * The queued requests in progress by request id, for {@code GET /queue/requests/{id}} and the {@code waiters} of
 * {@code /queue/status}: an entry is added when a request joins the queue and removed when it ends (answered,
 * failed or left), so it holds what waits and what runs, bounded by the queue's depths and the slots; past
 * {@value #MAX_TRACKED} entries new requests are not tracked (their id answers 404). An entry holds ids, the tier and
 * times, never a prompt or a header value.
 *
 * <p>Request ids come from clients and may repeat: one id may name several entries (each kept with its client), and
 * a lookup answers the newest that the caller may see.
 */
public final class QueueRequests {
    /** Entries kept at most; a safety bound far above any queue's depth plus its slots. */
    public static final int MAX_TRACKED = 100_000;

    /** Where a tracked request is. */
    public enum State {
        /** Waiting in the queue. */
        QUEUED,
        /** Out of the queue with a slot: being forwarded, or streaming its answer. */
        DISPATCHED
    }

    private final Map<String, List<Entry>> byId = new ConcurrentHashMap<>();
    private final AtomicInteger size = new AtomicInteger();

    /**
     * Tracks a request that joins the queue, until {@link Entry#end()}.
     *
     * @param standing where its ticket stands while it waits ({@link dev.oqp.queue.scheduler.Scheduler#standing}),
     *                 null when it is not waiting
     * @return the entry, or null when {@value #MAX_TRACKED} are tracked already
     */
    public Entry track(String requestId, String clientId, Tier tier, Supplier<Standing> standing) {
        if (size.incrementAndGet() > MAX_TRACKED) {
            size.decrementAndGet();
            return null;
        }
        Entry entry = new Entry(requestId, clientId, tier, standing);
        byId.compute(requestId, (id, list) -> {
            List<Entry> next = list == null ? new ArrayList<>(1) : new ArrayList<>(list);
            next.add(entry);
            return List.copyOf(next);
        });
        return entry;
    }

    /**
     * The newest entry for {@code requestId} that {@code clientId} may see: its own, or any when {@code clientId} is
     * null (the management scope); null when there is none (unknown id, ended, or another client's).
     */
    public Entry find(String requestId, String clientId) {
        List<Entry> list = byId.get(requestId);
        if (list == null) {
            return null;
        }
        for (int i = list.size() - 1; i >= 0; i--) {
            Entry e = list.get(i);
            if (clientId == null || e.clientId.equals(clientId)) {
                return e;
            }
        }
        return null;
    }

    /** Every tracked entry now, in no particular order. */
    public List<Entry> all() {
        List<Entry> out = new ArrayList<>(size.get());
        byId.values().forEach(out::addAll);
        return out;
    }

    /** Entries tracked now. */
    public int size() {
        return size.get();
    }

    private void remove(Entry entry) {
        byId.computeIfPresent(entry.requestId, (id, list) -> {
            List<Entry> next = new ArrayList<>(list);
            next.remove(entry);
            return next.isEmpty() ? null : List.copyOf(next);
        });
    }

    /** One tracked request. */
    public final class Entry {
        private final String requestId;
        private final String clientId;
        private final Tier tier;
        private final Supplier<Standing> standing;
        private final long trackedAtNanos = System.nanoTime();
        private volatile State state = State.QUEUED;
        private volatile long waitedNanos = -1;
        private volatile int admissionPosition;
        private volatile boolean ended;

        private Entry(String requestId, String clientId, Tier tier, Supplier<Standing> standing) {
            this.requestId = Objects.requireNonNull(requestId, "requestId");
            this.clientId = Objects.requireNonNull(clientId, "clientId");
            this.tier = Objects.requireNonNull(tier, "tier");
            this.standing = Objects.requireNonNull(standing, "standing");
        }

        public String requestId() {
            return requestId;
        }

        public String clientId() {
            return clientId;
        }

        /** The tier it was admitted into (the requested priority under the key's ceiling). */
        public Tier tier() {
            return tier;
        }

        public State state() {
            return state;
        }

        /** Where it stands while it waits; null once it is out of the queue (or about to be). */
        public Standing standing() {
            return state == State.QUEUED ? standing.get() : null;
        }

        /** Time from joining the queue to dispatch once dispatched; until then, the time tracked so far. */
        public long waitedNanos() {
            long w = waitedNanos;
            return w >= 0 ? w : System.nanoTime() - trackedAtNanos;
        }

        /** Its 1-based place when it was queued ({@code X-Queue-Position}), 0 when it did not wait (or not yet). */
        public int admissionPosition() {
            return admissionPosition;
        }

        /** It was queued at {@code position} ({@code X-Queue-Position}). */
        public void queuedAt(int position) {
            this.admissionPosition = position;
        }

        /** It left the queue with a slot after {@code waitedNanos}, having queued at {@code position} (0: it did not). */
        public void dispatched(long waitedNanos, int position) {
            this.waitedNanos = waitedNanos;
            this.admissionPosition = position;
            this.state = State.DISPATCHED;
        }

        /** The request ended (any way): it is forgotten. Idempotent. */
        public void end() {
            synchronized (this) {
                if (ended) {
                    return;
                }
                ended = true;
            }
            remove(this);
            size.decrementAndGet();
        }
    }
}
