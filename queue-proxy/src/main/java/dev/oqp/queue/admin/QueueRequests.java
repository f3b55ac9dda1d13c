package dev.oqp.queue.admin;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import dev.oqp.common.config.Tier;
import dev.oqp.queue.scheduler.Standing;
import dev.oqp.queue.scheduler.Ticket;

/**
 * The queued requests in progress by request id, for {@code GET /queue/requests/{id}} and the {@code waiters} of
 * {@code /queue/status}: an entry is added when a request joins the queue and removed when it ends (answered,
 * failed or left), so it holds what waits and what runs, bounded by the queue's depths and the slots; past
 * {@value #MAX_TRACKED} entries new requests are not tracked (their id answers 404). An entry holds ids, the tier and
 * times, never a prompt or a header value.
 *
 * <p>Request ids come from clients and may repeat: entries are kept by (client id, request id), so a lookup by one
 * client never reads another's entries, and a management lookup (any client) walks the clients holding that id.
 * One client may hold at most {@value #MAX_PER_ID} entries under one id (a repeated {@code X-Request-ID}); later ones
 * are not tracked (their id answers the older ones, or 404 once those end).
 */
public final class QueueRequests {
    /** Entries kept at most; a safety bound far above any queue's depth plus its slots. */
    public static final int MAX_TRACKED = 100_000;
    /** Entries kept at most per (client, request id). */
    public static final int MAX_PER_ID = 16;

    /** Where a tracked request is. */
    public enum State {
        /** Waiting in the queue. */
        QUEUED,
        /** Out of the queue with a slot: being forwarded, or streaming its answer. */
        DISPATCHED
    }

    /** Request id → client id → that client's entries under it, oldest first (at most {@value #MAX_PER_ID}). */
    private final Map<String, Map<String, ArrayDeque<Entry>>> byId = new ConcurrentHashMap<>();
    private final AtomicInteger size = new AtomicInteger();

    /**
     * Tracks a request that joins the queue, until {@link Entry#end()}.
     *
     * @param standing where its ticket stands while it waits ({@link dev.oqp.queue.scheduler.Scheduler#standing}),
     *                 null when it is not waiting
     * @return the entry, or null when {@value #MAX_TRACKED} are tracked already, or {@value #MAX_PER_ID} under this
     *         id for this client
     */
    public Entry track(String requestId, String clientId, Tier tier, Supplier<Standing> standing) {
        return track(requestId, clientId, tier, standing, () -> null);
    }

    /**
     * As {@link #track(String, String, Tier, Supplier)}, with its ticket ({@code null} until it is submitted), so that
     * the waiters of the status read every standing at once
     * ({@link dev.oqp.queue.scheduler.Scheduler#standings}).
     */
    public Entry track(String requestId, String clientId, Tier tier, Supplier<Standing> standing,
                       Supplier<? extends Ticket<?>> ticket) {
        if (size.incrementAndGet() > MAX_TRACKED) {
            size.decrementAndGet();
            return null;
        }
        Entry entry = new Entry(requestId, clientId, tier, standing, ticket);
        boolean[] added = {false};
        byId.compute(requestId, (id, clients) -> {
            Map<String, ArrayDeque<Entry>> next = clients == null ? new HashMap<>() : clients;
            ArrayDeque<Entry> own = next.computeIfAbsent(clientId, c -> new ArrayDeque<>());
            if (own.size() < MAX_PER_ID) {
                own.addLast(entry);
                added[0] = true;
            }
            return next;
        });
        if (!added[0]) {
            size.decrementAndGet();
            return null;
        }
        return entry;
    }

    /**
     * The newest entry for {@code requestId} that {@code clientId} may see: its own, or any when {@code clientId} is
     * null (the management scope); null when there is none (unknown id, ended, or another client's).
     */
    public Entry find(String requestId, String clientId) {
        Entry[] found = {null};
        // Read under the id's bin lock: the deques are changed only inside compute.
        byId.computeIfPresent(requestId, (id, clients) -> {
            if (clientId != null) {
                ArrayDeque<Entry> own = clients.get(clientId);
                found[0] = own == null ? null : own.peekLast();
            } else {
                for (ArrayDeque<Entry> own : clients.values()) {
                    Entry e = own.peekLast();
                    if (e != null && (found[0] == null || e.trackedAtNanos - found[0].trackedAtNanos > 0)) {
                        found[0] = e;
                    }
                }
            }
            return clients;
        });
        return found[0];
    }

    /** Every tracked entry now, in no particular order. */
    public List<Entry> all() {
        List<Entry> out = new ArrayList<>(size.get());
        for (String id : byId.keySet()) {
            byId.computeIfPresent(id, (k, clients) -> {
                clients.values().forEach(out::addAll);
                return clients;
            });
        }
        return out;
    }

    /** Entries tracked now. */
    public int size() {
        return size.get();
    }

    private void remove(Entry entry) {
        byId.computeIfPresent(entry.requestId, (id, clients) -> {
            ArrayDeque<Entry> own = clients.get(entry.clientId);
            if (own != null) {
                own.remove(entry); // at most {@value #MAX_PER_ID}
                if (own.isEmpty()) {
                    clients.remove(entry.clientId);
                }
            }
            return clients.isEmpty() ? null : clients;
        });
    }

    /** One tracked request. */
    public final class Entry {
        private final String requestId;
        private final String clientId;
        private final Tier tier;
        private final Supplier<Standing> standing;
        private final Supplier<? extends Ticket<?>> ticket;
        private final long trackedAtNanos = System.nanoTime();
        private volatile State state = State.QUEUED;
        private volatile long waitedNanos = -1;
        private volatile int admissionPosition;
        private volatile boolean ended;

        private Entry(String requestId, String clientId, Tier tier, Supplier<Standing> standing,
                      Supplier<? extends Ticket<?>> ticket) {
            this.ticket = Objects.requireNonNull(ticket, "ticket");
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

        /** Its ticket while it is queued; null before it is submitted, once it is out of the queue, or untracked. */
        Ticket<?> ticket() {
            return state == State.QUEUED ? ticket.get() : null;
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
