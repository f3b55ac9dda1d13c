package dev.oqp.queue.scheduler;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;

import dev.oqp.common.config.QueueConfig;
import dev.oqp.common.config.Tier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The three-tier priority queue of the queue proxy: admission, ordering, caps, expiry, aging and operator
 * controls. Pure Java, thread-safe, and no thread ever waits in it: every method does a bounded amount of
 * work under one short internal lock and returns.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>Every {@link Ticket} submitted gets exactly one outcome on its {@link Ticket.Listener}. Outcomes are
 *       decided under the lock and delivered after it is released, in decision order, by whichever thread is
 *       calling into the scheduler (one thread delivers at a time; a callback that calls back into the
 *       scheduler, e.g. releases its lease synchronously, does not recurse or deadlock: the nested outcomes
 *       are delivered by the same loop right after).</li>
 *   <li>A dispatched ticket holds a {@link Lease} wrapping the one from {@link Capacity#tryAcquire}. Its
 *       {@code release()} is idempotent, gives the capacity back once, records the service time and
 *       dispatches what the freed capacity allows. Call {@link #capacityChanged()} only for other changes
 *       (host healthy again, caps raised).</li>
 *   <li>{@link Capacity#tryAcquire} is called under the lock; it must not block or call the scheduler.</li>
 * </ul>
 *
 * <h2>Admission ({@link #submit})</h2>
 * Its requested tier draining: rejected ({@link Rejection.Reason#DRAINING}, 503, Retry-After as below).
 * Otherwise the ticket is dispatched at once when the ordering below lets it run now (its requested tier not
 * paused, capacity free, nothing ahead of it that can use the slot). Else it waits, provided its requested
 * tier holds fewer than {@code max_depth} waiting tickets and its body fits in {@code max_queued_bytes}
 * (bodies of all waiting tickets, all tiers); otherwise it is rejected with {@code overflow_status_code}
 * ({@link Rejection.Reason#TIER_FULL} / {@link Rejection.Reason#BYTES_FULL}).
 * So {@code max_depth: 0} means the tier never holds a waiting ticket: dispatched at once or rejected.
 * A body larger than {@code max_queued_bytes} may still be dispatched at once: it is never held in the queue.
 *
 * <h2>Ordering at dispatch</h2>
 * Only tickets whose requested tier is not paused take part (see <i>Operator controls</i>); paused tickets
 * are passed over without a {@code tryAcquire}, so they hold nothing and block no one, not even newer tickets
 * of their own client and model. Among the others:
 * <ol>
 *   <li>Effective tier = requested tier raised one level per full {@code aging} interval waited, capped at
 *       HIGH; {@code aging: 0} = never (strict priority). Highest effective tier first. Aging changes only
       the order: pause, drain, flush, depth, {@code max_wait} and Retry-After go by the requested tier.</li>
 *   <li>Within an effective tier, round-robin across clients: the client served least recently goes first
 *       (a client with nothing queued and nothing in flight is forgotten, so it counts as never served and goes
 *       first when it returns; ties go to the client whose oldest waiting ticket is older).</li>
 *   <li>Within a client, FIFO (submit order; an aged ticket meets the client's newer tickets of the tier it
 *       reached in submit order).</li>
 *   <li>A ticket whose {@code tryAcquire} returns null (client at its cap, no host slot for its model, global
 *       cap) is skipped without holding anything; tickets behind it from other clients or for other models
 *       are still tried, but none of the same client and model (FIFO per client and model holds).</li>
 * </ol>
 * A dispatch pass runs on submit, on lease release, on {@link #capacityChanged()}, {@link #resume(Tier)} and
 * {@link #drain(Tier)}, whatever is paused, and repeats until nothing more can be dispatched; it stops at once
 * when no unpaused tier holds a waiting ticket. A refusal is remembered for the rest of the pass (capacity
 * only shrinks while the pass holds the lock; a concurrent release runs its own pass afterwards), so a pass
 * costs one {@code tryAcquire} per waiting unpaused (client, model) pair plus a scan of the waiting tickets
 * per dispatch: cheap for queues bounded by {@code max_depth}.
 *
 * <h2>Reserved slots</h2>
 * Before each {@code tryAcquire} the ticket is told how many global slots must stay free after it
 * ({@link Ticket#keepFree()}): the reserves of other tiers ({@code reserved_slots}, {@code borrow}) and of other
 * clients ({@code min_slots}) it may not borrow now, by what waits and runs here (the rule: {@link Reserves}). The
 * capacity refuses it when fewer would stay free. Such a refusal is not remembered for the pass: a dispatch later in
 * the pass may end the wait the slots were kept for.
 *
 * <h2>Position</h2>
 * A ticket queued at admission gets its 1-based place in the dispatch order as it stands then
 * ({@link Ticket#position()}, the {@code X-Queue-Position} header): 1 + the waiting tickets of a higher effective
 * tier + within its own, its client's older tickets and, of every other client, as many as round-robin serves
 * before it (one per turn its client waits, plus one when that client's turn comes first). Tickets of a paused
 * tier count only for a ticket of a paused tier. Capacity is left aside (any slot may take any ticket), and a
 * later arrival of higher priority or of a client served less recently, aging, and the turns that higher-tier
 * dispatches take may move the ticket afterwards: it is a place at admission, not a promise. Counting it walks
 * every waiting ticket under the lock, so past {@value #EXACT_POSITION_LIMIT} waiting tickets (a queue deep enough
 * that the exact place no longer helps anyone) it is estimated in constant time instead: 1 + the tickets waiting
 * in the same or a higher requested tier, aging and round-robin left aside.
 *
 * <h2>Expiry</h2>
 * A waiting ticket's deadline is fixed at submit: its requested tier's {@code max_wait}, or its own sooner limit
 * (see "Deadlines"; aging does not move it). {@link #expireDue()} answers every ticket at or past its deadline and returns the delay to the next
 * one, so a single timer serves the whole queue; the {@link Alarm} is told when a newly queued ticket
 * brings the next deadline forward. A dispatch pass also expires due tickets first, so a ticket past its
 * deadline is never dispatched.
 *
 * <h2>Deadlines</h2>
 * A ticket may carry a wait limit of its own ({@link Ticket#maxWait}, the client's {@code X-Queue-Max-Wait}). Its
 * deadline is then the sooner of that and its requested tier's {@code max_wait}. Queued at admission, it is refused at
 * once ({@link Rejection.Reason#DEADLINE}, {@code overflow_status_code}) when the wait estimated for its position
 * ({@link #estimateNanos}) is longer than that limit; {@code Retry-After} is that estimate, at least 1 s and at most
 * its requested tier's {@code max_wait} (and 3600 s). Still waiting at its deadline, it ends with
 * {@link Ticket.Listener#missedDeadline} (not {@code expired}), with the estimate for the constant-time position of
 * "Position" (1 + the tickets waiting in its requested tier and above, itself included), so that many tickets
 * missing their deadlines together cost no walk of the queue each. The estimate is one fleet-wide average service
 * time (10 s before any release), not one per model. Without a limit of its own nothing changes.
 *
 * <h2>Retry-After</h2>
 * Service time is measured from dispatch to lease release and averaged with an exponentially weighted moving
 * average ({@code avg = avg + 0.2 × (sample − avg)}; the first sample sets it; 10 s before any). For a ticket
 * rejected while asking for tier {@code t}:
 * <pre>
 *   ahead       = tickets waiting in tiers t and above (by requested tier)
 *   concurrency = max(1, leases currently in flight)
 *   retryAfter  = clamp(ceil(ahead × avg / concurrency), 1 s, 3600 s)
 * </pre>
 *
 * <h2>Signals (webhooks)</h2>
 * After every operation the scheduler compares each tier's waiting tickets with its high watermark
 * ({@code high_watermark_pct} % of {@code max_depth}) and the whole queue with empty, and tells its
 * {@link Signals} of each crossing once: a tier reaching its mark (again only after it fell below), the queue
 * going from some waiting to none. A rejection for a full tier or for the byte budget carries
 * {@link Rejection#announce()} only for the first such refusal in its tier since the tier last admitted a ticket.
 *
 * <h2>Operator controls</h2>
 * Each applies to one tier, or to all three when the tier is null ({@code POST /queue/pause|resume|drain|flush},
 * optional {@code ?tier=}). Pause and drain are state per tier; {@link #snapshot()} reports both sets.
 * <ul>
 *   <li>{@link #pause(Tier)}: waiting tickets of the tier are not dispatched; new tickets of it still queue
 *       (within its limits) and still expire; other tiers are dispatched as usual. Does not end a drain: a
 *       tier both draining and paused accepts nothing and dispatches nothing.</li>
 *   <li>{@link #drain(Tier)}: new tickets of the tier are rejected ({@link Rejection.Reason#DRAINING});
 *       ends the tier's pause, so what waits in it keeps being dispatched.</li>
 *   <li>{@link #resume(Tier)}: ends the tier's pause and drain.</li>
 *   <li>{@link #flush(Tier)}: answers the tier's waiting tickets with {@code flushed}; pause and drain
 *       are left as they are.</li>
 * </ul>
 * A ticket belongs to its <em>requested</em> tier for all of these, the one it was admitted into: a LOW
 * ticket aged into HIGH is held by pausing LOW, not by pausing HIGH, and is flushed with LOW (as its
 * {@code max_wait}, depth and Retry-After also stay those of LOW).
 */
public final class Scheduler<L extends Lease> implements QueueControls {

    /** Told that the earliest expiry deadline is now {@code nanos} away; arm the shared timer if that is sooner. */
    @FunctionalInterface
    public interface Alarm {
        void wakeUpIn(long nanos);
    }

    /**
     * Told of the queue's transitions, after the lock is released and in decision order, like the outcomes; each
     * fires once per transition. Must not block.
     */
    public interface Signals {
        /** Nothing to tell. */
        Signals NONE = new Signals() {
        };

        /**
         * The tier's waiting tickets reached {@code high_watermark_pct} % of its {@code max_depth}; told again only
         * after the depth fell below that mark (by any dispatch, expiry, cancel or flush).
         */
        default void highWatermark(Tier tier, int depth, int maxDepth) {
        }

        /** The queue went from holding waiting tickets (any tier) to holding none. */
        default void drained() {
        }
    }

    static final double EWMA_WEIGHT = 0.2;
    static final long INITIAL_SERVICE_NANOS = 10_000_000_000L;
    static final long MAX_RETRY_AFTER_SECONDS = 3600;

    private static final Logger LOG = LoggerFactory.getLogger(Scheduler.class);

    private final ReentrantLock lock = new ReentrantLock();
    private final Ticks ticks;
    private final Capacity<L> capacity;
    private final Alarm alarm;

    private final ConcurrentLinkedQueue<Runnable> outbox = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean delivering = new AtomicBoolean();

    // Guarded by lock.
    private QueueConfig config;
    private final Map<String, ClientState> clients = new HashMap<>();
    private final TreeSet<Ticket<L>> byDeadline = new TreeSet<>(
            Comparator.comparingLong((Ticket<L> t) -> t.deadline).thenComparingLong(t -> t.seq));
    private final int[] depth = new int[Tier.values().length];
    /** Waiting tickets up to which a position is counted exactly (see "Position"). */
    static final int EXACT_POSITION_LIMIT = 1000;
    private long queuedBytes;
    private long seqCounter;
    private long servedCounter;
    private int inFlight;
    private double avgServiceNanos = Double.NaN;
    private final EnumSet<Tier> paused = EnumSet.noneOf(Tier.class);
    private final EnumSet<Tier> draining = EnumSet.noneOf(Tier.class);
    /** Tiers at or above their high watermark, told so; cleared when their depth falls below it. */
    private final EnumSet<Tier> aboveWatermark = EnumSet.noneOf(Tier.class);
    /** Tiers whose refusal for a full tier / for max_queued_bytes was announced; cleared when the tier admits. */
    private final EnumSet<Tier> announcedFull = EnumSet.noneOf(Tier.class);
    private final EnumSet<Tier> announcedBytes = EnumSet.noneOf(Tier.class);
    private boolean anyWaiting;
    private volatile Signals signals = Signals.NONE;
    /** Reserved slots of tiers and clients (see {@link Reserves}), read before each {@code tryAcquire}. */
    private Reserves reserves;
    private final int[] tierInFlight = new int[Tier.values().length];
    private final Reserves.Load load = new Load();

    /** A scheduler whose expiry timer polls {@link #expireDue()} on its own (no alarm). */
    public Scheduler(QueueConfig config, Ticks ticks, Capacity<L> capacity) {
        this(config, ticks, capacity, nanos -> { });
    }

    public Scheduler(QueueConfig config, Ticks ticks, Capacity<L> capacity, Alarm alarm) {
        this.config = Objects.requireNonNull(config, "config");
        this.reserves = Reserves.of(config, Map.of());
        this.ticks = Objects.requireNonNull(ticks, "ticks");
        this.capacity = Objects.requireNonNull(capacity, "capacity");
        this.alarm = Objects.requireNonNull(alarm, "alarm");
    }

    /** Tells {@code signals} of the queue's transitions from now on (replacing any before). */
    public void signals(Signals signals) {
        this.signals = Objects.requireNonNull(signals, "signals");
    }

    /**
     * Admits a ticket: dispatches it at once, queues it, or rejects it (see the class Javadoc).
     *
     * @throws IllegalStateException if the ticket was submitted before
     */
    public Admission submit(Ticket<L> ticket) {
        Admission admission;
        long wakeUpIn = -1;
        lock.lock();
        try {
            if (ticket.state != Ticket.State.NEW) {
                throw new IllegalStateException("ticket submitted twice: " + ticket);
            }
            long now = ticks.nanos();
            if (draining.contains(ticket.requested())) {
                ticket.state = Ticket.State.DONE;
                reject(ticket, Rejection.Reason.DRAINING, 503, false);
                admission = Admission.REJECTED;
            } else {
                enqueue(ticket, now);
                dispatch(now);
                if (ticket.state == Ticket.State.DONE) {
                    admission = Admission.DISPATCHED;
                    admitted(ticket.requested());
                } else {
                    Rejection.Reason overLimit = overLimit(ticket);
                    if (overLimit != null) {
                        left(ticket);
                        ticket.state = Ticket.State.DONE;
                        EnumSet<Tier> announced = overLimit == Rejection.Reason.TIER_FULL ? announcedFull : announcedBytes;
                        reject(ticket, overLimit, config.overflowStatusCode(), announced.add(ticket.requested()));
                        admission = Admission.REJECTED;
                    } else {
                        ticket.position = position(ticket, now);
                        // Only a ticket with a limit of its own is refused for its predicted wait (see "Deadlines").
                        long eta = ticket.maxWaitNanos() >= 0 ? estimateNanos(ticket.position) : 0;
                        if (eta > ticket.deadline - now) {
                            left(ticket);
                            ticket.state = Ticket.State.DONE;
                            ticket.position = 0;
                            Rejection late = Deadlines.rejection(ticket.requested(), config.overflowStatusCode(), eta,
                                    config.tier(ticket.requested()).maxWait().toNanos());
                            post(() -> ticket.listener().rejected(late));
                            admission = Admission.REJECTED;
                        } else {
                            admission = Admission.QUEUED;
                            admitted(ticket.requested());
                            if (byDeadline.first() == ticket) {
                                wakeUpIn = Math.max(0, ticket.deadline - now);
                            }
                        }
                    }
                }
            }
            observe();
        } finally {
            lock.unlock();
        }
        if (wakeUpIn >= 0) {
            alarm.wakeUpIn(wakeUpIn);
        }
        deliver();
        return admission;
    }

    /**
     * Dispatches as many waiting tickets of unpaused tiers as capacity now allows, in order. Never blocks.
     * Call it when capacity grew other than by a lease release (host healthy again, caps raised).
     */
    public void capacityChanged() {
        lock.lock();
        try {
            dispatch(ticks.nanos());
            observe();
        } finally {
            lock.unlock();
        }
        deliver();
    }

    /**
     * Removes a waiting ticket at once (its client disconnected); it is answered with {@code cancelled}.
     *
     * @return true if the ticket was waiting; false if it already had its outcome (e.g. was dispatched:
     *         then its lease must be released by the exchange as usual)
     */
    public boolean cancel(Ticket<L> ticket) {
        lock.lock();
        try {
            if (ticket.state != Ticket.State.QUEUED) {
                return false;
            }
            long now = ticks.nanos();
            left(ticket);
            ticket.state = Ticket.State.DONE;
            long waited = now - ticket.submittedAt;
            post(() -> ticket.listener().cancelled(waited));
            observe();
        } finally {
            lock.unlock();
        }
        deliver();
        return true;
    }

    /**
     * Answers every waiting ticket at or past its deadline with {@code expired}.
     *
     * @return nanoseconds until the next deadline, or -1 when nothing waits; re-arm the timer with it
     */
    public long expireDue() {
        long next;
        lock.lock();
        try {
            long now = ticks.nanos();
            expire(now);
            next = byDeadline.isEmpty() ? -1 : Math.max(0, byDeadline.first().deadline - now);
            observe();
        } finally {
            lock.unlock();
        }
        deliver();
        return next;
    }

    /**
     * Pauses a tier: its waiting tickets are not dispatched until {@link #resume(Tier)} or {@link #drain(Tier)}
     * ends the pause. New tickets of the tier still queue (within its {@code max_depth} and the byte budget,
     * else they are rejected as usual), waiting ones still expire, cancel and flush; tickets of other tiers
     * are dispatched as usual. A ticket is held by its requested tier, even when aged into a higher one.
     * Does not end a drain of the tier. Pausing a paused tier does nothing.
     *
     * @param tier the requested tier to pause, or null for all tiers
     */
    @Override
    public void pause(Tier tier) {
        lock.lock();
        try {
            Set<Tier> affected = tiers(tier);
            paused.addAll(affected);
            // What the capacity holds for them goes back (with coordination: their place in the shared order,
            // so they do not hold a host back from other replicas); they ask again once resumed.
            for (ClientState c : clients.values()) {
                for (Ticket<L> t : c.tickets) {
                    if (affected.contains(t.requested())) {
                        try {
                            capacity.forget(t);
                        } catch (RuntimeException e) {
                            LOG.warn("capacity failed to forget {}", t, e);
                        }
                    }
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Ends the pause and the drain of a tier, then dispatches what capacity allows. Resuming a tier that is
     * neither paused nor draining only runs a dispatch pass.
     *
     * @param tier the requested tier to resume, or null for all tiers
     */
    @Override
    public void resume(Tier tier) {
        lock.lock();
        try {
            Set<Tier> affected = tiers(tier);
            paused.removeAll(affected);
            draining.removeAll(affected);
            dispatch(ticks.nanos());
            observe();
        } finally {
            lock.unlock();
        }
        deliver();
    }

    /**
     * Drains a tier: from now on new tickets of that requested tier are rejected
     * ({@link Rejection.Reason#DRAINING}, 503, Retry-After as usual) until {@link #resume(Tier)}. Ends the
     * tier's pause and dispatches what capacity allows; its waiting tickets keep being dispatched (or expire,
     * or are cancelled or flushed). Other tiers are unaffected.
     *
     * @param tier the requested tier to drain, or null for all tiers
     */
    @Override
    public void drain(Tier tier) {
        lock.lock();
        try {
            Set<Tier> affected = tiers(tier);
            draining.addAll(affected);
            paused.removeAll(affected);
            dispatch(ticks.nanos());
            observe();
        } finally {
            lock.unlock();
        }
        deliver();
    }

    /**
     * Removes the waiting tickets of a requested tier (aged or not) and answers them with {@code flushed}, in
     * submit order. Dispatched tickets are not touched; pause and drain are left as they are, so a paused tier
     * keeps queueing new tickets and a draining one keeps rejecting them.
     *
     * @param tier the requested tier to flush, or null for all tiers
     * @return how many tickets were flushed
     */
    @Override
    public int flush(Tier tier) {
        int flushed = 0;
        lock.lock();
        try {
            long now = ticks.nanos();
            List<Ticket<L>> victims = new ArrayList<>();
            for (Ticket<L> t : byDeadline) {
                if (tier == null || t.requested() == tier) {
                    victims.add(t);
                }
            }
            victims.sort(Comparator.comparingLong(t -> t.seq));
            for (Ticket<L> t : victims) {
                left(t);
                t.state = Ticket.State.DONE;
                long waited = now - t.submittedAt;
                post(() -> t.listener().flushed(waited));
                flushed++;
            }
            observe();
        } finally {
            lock.unlock();
        }
        deliver();
        return flushed;
    }

    /**
     * Where a waiting ticket stands now, or null when it is not waiting (not yet submitted, dispatched, or answered
     * otherwise). Its position is counted as at admission (see "Position"), against the queue as it is now.
     */
    public Standing standing(Ticket<L> ticket) {
        lock.lock();
        try {
            if (ticket.state != Ticket.State.QUEUED) {
                return null;
            }
            long now = ticks.nanos();
            int position = position(ticket, now);
            return new Standing(position, effectiveTier(ticket, now, config.aging().toNanos()), now - ticket.submittedAt,
                    estimateNanos(position));
        } finally {
            lock.unlock();
        }
    }

    /**
     * Where each of {@code tickets} stands now, as {@link #standing} answers for each, under one lock: one walk of the
     * queue counts every client's waiting tickets by effective tier (and each asked ticket's older ones of its
     * client), then each asked ticket's place takes one walk of the clients, not of the queue. Tickets not waiting
     * here (null, not submitted, dispatched, answered) are left out of the answer.
     */
    public Map<Ticket<?>, Standing> standings(Collection<? extends Ticket<?>> tickets) {
        lock.lock();
        try {
            long now = ticks.nanos();
            long agingNanos = config.aging().toNanos();
            Map<Ticket<?>, Standing> out = new HashMap<>();
            Set<Ticket<?>> wanted = new HashSet<>();
            for (Ticket<?> t : tickets) {
                if (t != null && t.state == Ticket.State.QUEUED) {
                    wanted.add(t);
                }
            }
            int waiting = 0;
            for (int d : depth) {
                waiting += d;
            }
            if (wanted.isEmpty() || waiting > EXACT_POSITION_LIMIT) {
                for (Ticket<?> t : wanted) {
                    ClientState c = clients.get(t.clientId());
                    if (c != null && c.tickets.contains(t)) {
                        out.put(t, standingAt(t, estimatedPosition(t), now, agingNanos));
                    }
                }
                return out;
            }
            int tiers = Tier.values().length;
            // counts[f][tier] per client and in all: f = 0 every waiting ticket, f = 1 those of unpaused tiers.
            Map<ClientState, int[][]> counts = new HashMap<>();
            int[][] total = new int[2][tiers];
            Map<Ticket<?>, Integer> ownOlder = new HashMap<>();
            for (ClientState c : clients.values()) {
                int[][] n = new int[2][tiers];
                for (Ticket<L> o : c.tickets) { // in submission order
                    int e = effectiveTier(o, now, agingNanos).ordinal();
                    boolean unpaused = !paused.contains(o.requested());
                    if (wanted.contains(o)) {
                        ownOlder.put(o, n[unpaused ? 1 : 0][e]);
                    }
                    n[0][e]++;
                    total[0][e]++;
                    if (unpaused) {
                        n[1][e]++;
                        total[1][e]++;
                    }
                }
                counts.put(c, n);
            }
            Comparator<ClientState> rotation = rotation();
            for (Map.Entry<Ticket<?>, Integer> w : ownOlder.entrySet()) {
                Ticket<?> t = w.getKey();
                int older = w.getValue();
                int f = paused.contains(t.requested()) ? 0 : 1;
                int tier = effectiveTier(t, now, agingNanos).ordinal();
                ClientState own = clients.get(t.clientId());
                int ahead = 0;
                for (int e = 0; e < tier; e++) {
                    ahead += total[f][e];
                }
                for (Map.Entry<ClientState, int[][]> c : counts.entrySet()) {
                    int sameTier = c.getValue()[f][tier];
                    if (c.getKey() != own && sameTier > 0) {
                        ahead += Math.min(sameTier, older + (rotation.compare(c.getKey(), own) < 0 ? 1 : 0));
                    }
                }
                out.put(t, standingAt(t, 1 + ahead + older, now, agingNanos));
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    private Standing standingAt(Ticket<?> t, int position, long now, long agingNanos) {
        return new Standing(position, effectiveTier(t, now, agingNanos), now - t.submittedAt, estimateNanos(position));
    }

    /**
     * The wait ahead of the ticket at {@code position}: {@code position × average service time / slots}, where the
     * average is the measured one (see "Retry-After"; 10 s before any release) and the slots are the capacity's
     * ({@link Capacity#slots()}; the leases in flight, at least one, when it does not say). An estimate: service
     * times vary by model and prompt, and a later arrival of higher priority moves the ticket back.
     */
    long estimateNanos(int position) {
        double avg = Double.isNaN(avgServiceNanos) ? INITIAL_SERVICE_NANOS : avgServiceNanos;
        int slots = capacity.slots();
        return (long) Math.ceil(position * avg / Math.max(1, slots > 0 ? slots : inFlight));
    }

    /** The measured average service time (dispatch to release), or the 10 s assumed before any release. */
    public long averageServiceNanos() {
        lock.lock();
        try {
            return Double.isNaN(avgServiceNanos) ? INITIAL_SERVICE_NANOS : (long) avgServiceNanos;
        } finally {
            lock.unlock();
        }
    }

    /** A consistent view of depths, bytes, in-flight leases and the paused and draining tiers. */
    public Snapshot snapshot() {
        lock.lock();
        try {
            Map<Tier, Integer> depths = new EnumMap<>(Tier.class);
            for (Tier t : Tier.values()) {
                depths.put(t, depth[t.ordinal()]);
            }
            Map<String, Integer> perClient = new HashMap<>();
            for (ClientState c : clients.values()) {
                if (!c.tickets.isEmpty()) {
                    perClient.put(c.id, c.tickets.size());
                }
            }
            return new Snapshot(depths, perClient, queuedBytes, inFlight, paused, draining);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Applies new limits to new decisions: admission limits, aging, overflow status. Tickets already waiting
     * keep their deadlines; nothing is evicted by a lower {@code max_depth}.
     */
    public void reconfigure(QueueConfig newConfig) {
        Objects.requireNonNull(newConfig, "newConfig");
        lock.lock();
        try {
            config = newConfig;
            reserves = Reserves.of(newConfig, reserves.minSlots());
            observe();
        } finally {
            lock.unlock();
        }
        deliver();
    }

    /**
     * Keeps slots for clients from now on ({@code auth.keys[].min_slots}; see {@link Reserves}), replacing those
     * before, then dispatches what the new reserves allow.
     *
     * @param minSlots client id to its {@code min_slots}; ids with 0 are ignored
     */
    public void minSlots(Map<String, Integer> minSlots) {
        lock.lock();
        try {
            reserves = Reserves.of(config, minSlots);
            dispatch(ticks.nanos());
            observe();
        } finally {
            lock.unlock();
        }
        deliver();
    }

    /** Each tier's reserved slots now, highest tier first (the free slots as {@link Capacity#free} says). */
    public List<Reserve> reserves() {
        lock.lock();
        try {
            int[] borrowed = reserves.borrowed(capacity.free(inFlight), load);
            List<Reserve> out = new ArrayList<>();
            for (Tier t : Tier.values()) {
                out.add(new Reserve(t, reserves.reserved(t), reserves.borrow(t), borrowed[t.ordinal()]));
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    // ---- internals, all called with the lock held unless said otherwise ----

    /** The tiers an operator control applies to; no lock needed. */
    private static Set<Tier> tiers(Tier tier) {
        return tier == null ? EnumSet.allOf(Tier.class) : EnumSet.of(tier);
    }

    /** Waiting tickets whose requested tier is not paused: the ones a dispatch pass may start. */
    private int dispatchableDepth() {
        int n = 0;
        for (Tier t : Tier.values()) {
            if (!paused.contains(t)) {
                n += depth[t.ordinal()];
            }
        }
        return n;
    }

    private void enqueue(Ticket<L> t, long now) {
        t.seq = ++seqCounter;
        t.submittedAt = now;
        t.deadline = now + Deadlines.limitNanos(config.tier(t.requested()).maxWait().toNanos(), t.maxWaitNanos());
        t.state = Ticket.State.QUEUED;
        clients.computeIfAbsent(t.clientId(), ClientState::new).tickets.add(t);
        byDeadline.add(t);
        depth[t.requested().ordinal()]++;
        queuedBytes += t.bodyBytes();
    }

    /** A ticket of {@code tier} was admitted: its next refusal is announced again. */
    private void admitted(Tier tier) {
        announcedFull.remove(tier);
        announcedBytes.remove(tier);
    }

    /** Posts the transitions since the last call: watermarks crossed, the queue drained. */
    private void observe() {
        int total = 0;
        for (Tier t : Tier.values()) {
            int d = depth[t.ordinal()];
            total += d;
            int maxDepth = config.tier(t).maxDepth();
            boolean above = maxDepth > 0 && (long) d * 100 >= (long) config.tier(t).highWatermarkPct() * maxDepth;
            if (above && aboveWatermark.add(t)) {
                Signals s = signals;
                post(() -> s.highWatermark(t, d, maxDepth));
            } else if (!above) {
                aboveWatermark.remove(t);
            }
        }
        if (total > 0) {
            anyWaiting = true;
        } else if (anyWaiting) {
            anyWaiting = false;
            Signals s = signals;
            post(s::drained);
        }
    }

    private void remove(Ticket<L> t) {
        ClientState c = clients.get(t.clientId());
        c.tickets.remove(t);
        forgetIfIdle(c);
        byDeadline.remove(t);
        depth[t.requested().ordinal()]--;
        queuedBytes -= t.bodyBytes();
    }

    /** Removes a ticket that leaves without being dispatched, and tells the capacity (see {@link Capacity#forget}). */
    private void left(Ticket<L> t) {
        remove(t);
        try {
            capacity.forget(t);
        } catch (RuntimeException e) {
            LOG.warn("capacity failed to forget {}", t, e);
        }
    }

    private void forgetIfIdle(ClientState c) {
        if (c.tickets.isEmpty() && c.inFlight == 0) {
            clients.remove(c.id);
        }
    }

    /** The limit a just-queued ticket breaks, or null. */
    private Rejection.Reason overLimit(Ticket<L> t) {
        if (depth[t.requested().ordinal()] > config.tier(t.requested()).maxDepth()) {
            return Rejection.Reason.TIER_FULL;
        }
        if (queuedBytes > config.maxQueuedBytes()) {
            return Rejection.Reason.BYTES_FULL;
        }
        return null;
    }

    private void reject(Ticket<L> t, Rejection.Reason reason, int status, boolean announce) {
        Rejection rejection = new Rejection(reason, t.requested(), status, retryAfterSeconds(t.requested()), announce);
        post(() -> t.listener().rejected(rejection));
    }

    long retryAfterSeconds(Tier tier) {
        long ahead = 0;
        for (int i = 0; i <= tier.ordinal(); i++) {
            ahead += depth[i];
        }
        double avg = Double.isNaN(avgServiceNanos) ? INITIAL_SERVICE_NANOS : avgServiceNanos;
        double seconds = Math.ceil(ahead * avg / Math.max(1, inFlight) / 1e9);
        return (long) Math.max(1, Math.min(MAX_RETRY_AFTER_SECONDS, seconds));
    }

    private void expire(long now) {
        while (!byDeadline.isEmpty() && byDeadline.first().deadline - now <= 0) {
            Ticket<L> t = byDeadline.first();
            long waited = now - t.submittedAt;
            if (t.maxWaitNanos() >= 0) {
                // Its own deadline: answered like a refusal, with the wait predicted from the depth (constant time:
                // many tickets may miss their deadlines together).
                Rejection late = Deadlines.rejection(t.requested(), config.overflowStatusCode(),
                        estimateNanos(estimatedPosition(t)), config.tier(t.requested()).maxWait().toNanos());
                post(() -> t.listener().missedDeadline(late, waited));
            } else {
                post(() -> t.listener().expired(waited));
            }
            left(t);
            t.state = Ticket.State.DONE;
        }
    }

    /** The place of the waiting ticket {@code t} in the dispatch order now (see "Position" above). */
    private int position(Ticket<L> t, long now) {
        int waiting = 0;
        for (int d : depth) {
            waiting += d;
        }
        if (waiting > EXACT_POSITION_LIMIT) {
            return estimatedPosition(t);
        }
        long agingNanos = config.aging().toNanos();
        Tier tier = effectiveTier(t, now, agingNanos);
        boolean pausedToo = paused.contains(t.requested());
        ClientState own = clients.get(t.clientId());
        Comparator<ClientState> rotation = rotation();
        int ownOlder = 0;
        for (Ticket<L> o : own.tickets) {
            // Older only: at admission t is its client's newest, but standing() asks later, with newer ones behind it.
            if (o.seq < t.seq && effectiveTier(o, now, agingNanos) == tier
                    && (pausedToo || !paused.contains(o.requested()))) {
                ownOlder++;
            }
        }
        int ahead = 0;
        for (ClientState c : clients.values()) {
            int sameTier = 0;
            for (Ticket<L> o : c.tickets) {
                if (o == t || !pausedToo && paused.contains(o.requested())) {
                    continue;
                }
                Tier e = effectiveTier(o, now, agingNanos);
                if (e.ordinal() < tier.ordinal()) {
                    ahead++;
                } else if (e == tier && c != own) {
                    sameTier++;
                }
            }
            if (sameTier > 0) {
                ahead += Math.min(sameTier, ownOlder + (rotation.compare(c, own) < 0 ? 1 : 0));
            }
        }
        return 1 + ahead + ownOlder;
    }

    /** The constant-time place of a waiting ticket: 1 + the others waiting in its requested tier and above. */
    private int estimatedPosition(Ticket<?> t) {
        int ahead = 0;
        for (int i = 0; i <= t.requested().ordinal(); i++) {
            ahead += depth[i];
        }
        return ahead; // t itself is counted in its tier's depth
    }

    /** Turns between clients: the one served least recently first, then the one whose oldest waiting ticket is older. */
    private Comparator<ClientState> rotation() {
        return Comparator.<ClientState>comparingLong(c -> c.lastServed)
                .thenComparingLong(c -> c.tickets.iterator().next().seq);
    }

    private Tier effectiveTier(Ticket<?> t, long now, long agingNanos) {
        if (agingNanos <= 0) {
            return t.requested();
        }
        long steps = Math.max(0, (now - t.submittedAt) / agingNanos);
        return Tier.values()[(int) Math.max(0, t.requested().ordinal() - Math.min(steps, Tier.values().length))];
    }

    /**
     * One dispatch pass: expires due tickets, then repeats until no waiting ticket of an unpaused tier can get a
     * lease (see the class Javadoc for the order). Paused tickets are skipped before any capacity check.
     */
    private void dispatch(long now) {
        expire(now);
        long agingNanos = config.aging().toNanos();
        // (client, model) pairs refused during this pass: capacity only shrinks while we hold the lock, and a
        // concurrent release runs another pass after ours, so a refusal stays valid for the whole pass.
        Map<ClientState, Set<String>> refused = new HashMap<>();
        Comparator<ClientState> rotation = rotation();
        boolean progress = true;
        while (progress && dispatchableDepth() > 0) {
            progress = false;
            List<ClientState> order = new ArrayList<>(clients.size());
            for (ClientState c : clients.values()) {
                if (!c.tickets.isEmpty()) {
                    order.add(c);
                }
            }
            order.sort(rotation);
            search:
            for (Tier tier : Tier.values()) {
                for (ClientState c : order) {
                    Set<String> refusedModels = refused.get(c);
                    for (Ticket<L> t : c.tickets) {
                        if (paused.contains(t.requested())
                                || effectiveTier(t, now, agingNanos) != tier
                                || (refusedModels != null && refusedModels.contains(t.model()))) {
                            continue;
                        }
                        L lease = tryAcquire(t);
                        if (lease == null) {
                            if (t.keepFree > 0) {
                                // Refused for a reserve, maybe: a dispatch later in this pass may end the wait it
                                // was kept for, and a newer ticket of a higher tier may be entitled to it.
                                continue;
                            }
                            if (refusedModels == null) {
                                refusedModels = new HashSet<>();
                                refused.put(c, refusedModels);
                            }
                            refusedModels.add(t.model());
                            continue;
                        }
                        start(t, c, lease, now);
                        progress = true;
                        break search;
                    }
                }
            }
        }
    }

    /** A failing {@link Capacity} counts as a refusal, so one bad call cannot leave the queue half-updated. */
    private L tryAcquire(Ticket<L> t) {
        try {
            t.keepFree = reserves.keepFree(t.requested(), t.clientId(), load);
            return capacity.tryAcquire(t);
        } catch (RuntimeException e) {
            LOG.warn("capacity check failed for {}", t, e);
            return null;
        }
    }

    private void start(Ticket<L> t, ClientState c, L lease, long now) {
        c.inFlight++;
        c.lastServed = ++servedCounter;
        remove(t);
        t.state = Ticket.State.DONE;
        inFlight++;
        Tier tier = t.requested();
        tierInFlight[tier.ordinal()]++;
        Grant<L> metered = new Grant<>(lease, () -> released(c, tier, now));
        long waited = now - t.submittedAt;
        post(() -> {
            try {
                t.listener().dispatched(metered, waited);
            } catch (RuntimeException | Error e) {
                metered.release();
                throw e;
            }
        });
    }

    /** Called without the lock, once per lease. */
    private void released(ClientState client, Tier tier, long dispatchedAt) {
        lock.lock();
        try {
            long now = ticks.nanos();
            inFlight--;
            tierInFlight[tier.ordinal()]--;
            client.inFlight--;
            forgetIfIdle(client);
            double sample = Math.max(0, now - dispatchedAt);
            avgServiceNanos = Double.isNaN(avgServiceNanos) ? sample
                    : avgServiceNanos + EWMA_WEIGHT * (sample - avgServiceNanos);
            dispatch(now);
            observe();
        } finally {
            lock.unlock();
        }
        deliver();
    }

    private void post(Runnable outcome) {
        outbox.add(outcome);
    }

    /** Delivers posted outcomes; called without the lock. Only one thread delivers at a time, in posting order. */
    private void deliver() {
        while (!outbox.isEmpty() && delivering.compareAndSet(false, true)) {
            try {
                Runnable r;
                while ((r = outbox.poll()) != null) {
                    try {
                        r.run();
                    } catch (RuntimeException e) {
                        LOG.warn("queue listener failed", e);
                    }
                }
            } finally {
                delivering.set(false);
            }
        }
    }

    /** What waits and runs, for {@link Reserves}; read under the lock. */
    private final class Load implements Reserves.Load {
        @Override
        public boolean waiting(Tier tier) {
            return depth[tier.ordinal()] > 0 && !paused.contains(tier);
        }

        @Override
        public boolean waiting(String clientId) {
            ClientState c = clients.get(clientId);
            if (c != null) {
                for (Ticket<L> t : c.tickets) {
                    if (!paused.contains(t.requested())) {
                        return true;
                    }
                }
            }
            return false;
        }

        @Override
        public int inFlight(Tier tier) {
            return tierInFlight[tier.ordinal()];
        }

        @Override
        public int inFlight(String clientId) {
            ClientState c = clients.get(clientId);
            return c == null ? 0 : c.inFlight;
        }
    }

    /** Round-robin and cap bookkeeping of one client; kept while it has tickets waiting or leases out. */
    private final class ClientState {
        final String id;
        final LinkedHashSet<Ticket<L>> tickets = new LinkedHashSet<>();
        long lastServed;
        int inFlight;

        ClientState(String id) {
            this.id = id;
        }
    }
}
