package dev.oqp.queue.routing;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.ToIntFunction;

import dev.oqp.common.config.RoutingConfig;
import dev.oqp.queue.scheduler.Capacity;
import dev.oqp.queue.scheduler.Lease;
import dev.oqp.queue.scheduler.Ticket;

/**
 * The slots a dispatched request holds (pipeline step 8) and the host it goes to (step 9): one of the global
 * cap, one of its client's {@code max_concurrent}, one of a host's {@code max_concurrent}, and one of the host's
 * per-model {@code max_concurrent} for the request's model when it has one ({@link ModelRules}). All or nothing:
 * {@link #tryAcquire} takes all of them or none, and none when fewer than the ticket's {@link Ticket#keepFree()}
 * global slots would stay free after it (the reserves of other tiers and clients).
 *
 * <h2>Host choice</h2>
 * <ol>
 *   <li>Candidates: usable hosts (healthy, or not checked yet), minus those a failover already tried.</li>
 *   <li>Able: candidates that have the model, by their inventory ({@link Host.Level}): loaded, installed, or
 *       not synced yet. When no candidate is able and no other host (unhealthy, or tried) has the model either,
 *       {@code fallback: any_healthy} makes every candidate able (reason {@code fallback});
 *       {@code fallback: reject} has answered 404 before queueing, and a model that vanished while its request
 *       waited is treated the same way (Ollama answers for itself). A model only on hosts that are down is
 *       not a fallback case: its request waits for one of them (the gate answers 503 before queueing).</li>
 *   <li>A request waits until an able host has a free slot: it never spills over to a host without its model
 *       while the hosts with it are busy, and it holds nothing while it waits, so requests for other models
 *       with free hosts go ahead (the scheduler skips it). A host that runs as many requests of the model as its
 *       per-model cap allows counts as full for that model only: requests for other models still go there.</li>
 *   <li>Among able hosts with a free slot, the most preferred: {@code model_aware} prefers loaded, then
 *       installed, then not synced, then the fewest requests in flight per unit of {@code weight};
 *       {@code least_busy} the fewest in flight per unit of weight (loaded or not; with coordination, in flight
 *       over every replica, from the last heartbeat's snapshot); {@code round_robin} has no
 *       preference. Requests in flight per weight: a host of weight 2 with two requests is as busy as one of
 *       weight 1 with one.</li>
 *   <li>Among the equally preferred hosts: a smooth weighted rotation (nginx's): each host earns its weight
 *       in credit, the one with the most credit (config order on a tie) is chosen and pays the sum of the
 *       weights. Hosts of weight 2 and 1 that stay equally preferred get two requests in three, interleaved
 *       (a, b, a, a, b, a…), under every strategy; sequential requests, which leave every host idle, split by
 *       weight.</li>
 * </ol>
 *
 * <p>Thread-safe: the scheduler acquires under its own lock, leases are released from completion callbacks on
 * any thread; both take this pool's monitor for a short scan of the hosts only.
 */
public final class SlotPool implements Capacity<SlotPool.HostLease> {
    private final Fleet fleet;
    // Guarded by this (replaced together by a reload).
    private RoutingConfig routing;
    private int configuredGlobalCap;
    private int globalCap;
    private ToIntFunction<String> clientCap;
    private final Map<String, Integer> clientInFlight = new HashMap<>();
    private final ModelSlots modelSlots = new ModelSlots();
    private int inFlight;
    /** Replicas sharing every cap in a degraded coordination ({@link #share}); 1 = the whole caps, as alone. */
    private int share = 1;

    /**
     * @param fleet     the hosts
     * @param routing   strategy and fallback
     * @param globalCap requests in flight across the fleet; 0 = the sum of the hosts' slots
     * @param clientCap a client id's {@code max_concurrent}; 0 = no cap
     */
    public SlotPool(Fleet fleet, RoutingConfig routing, int globalCap, ToIntFunction<String> clientCap) {
        this.fleet = fleet;
        reconfigure(routing, globalCap, clientCap);
    }

    /**
     * Takes new settings (a reload; call after {@link Fleet#reconfigure}): they apply to the next choices.
     * Slots in use stay counted on the hosts and clients that hold them.
     */
    public synchronized void reconfigure(RoutingConfig routing, int globalCap, ToIntFunction<String> clientCap) {
        this.routing = routing;
        this.configuredGlobalCap = globalCap;
        this.clientCap = clientCap;
        hostsChanged();
    }

    /** Recomputes the global cap when it is the sum of the hosts' slots (after the host list changed). */
    public synchronized void hostsChanged() {
        int sum = 0;
        for (Host host : fleet.hosts()) {
            sum += host.config().maxConcurrent();
        }
        this.globalCap = configuredGlobalCap > 0 ? configuredGlobalCap : sum;
        // Weights may have changed: the rotation starts afresh.
        for (Host host : fleet.hosts()) {
            host.credit = 0;
        }
    }

    /** Why a host was chosen: the label of {@code oqp_routing_decisions_total}. */
    public record Choice(Host host, String reason) {
        /** True when the model is not known to be in memory there (its first answer may wait for a load). */
        public boolean cold(String canonicalModel) {
            return host.level(canonicalModel) != Host.Level.LOADED;
        }
    }

    @Override
    public HostLease tryAcquire(Ticket<HostLease> ticket) {
        return tryAcquire(ticket, null);
    }

    /**
     * {@link #tryAcquire(Ticket)} whose lease also runs {@code onRelease} once when it is released (coordination
     * tracks the leases it took while degraded).
     */
    public synchronized HostLease tryAcquire(Ticket<HostLease> ticket, Runnable onRelease) {
        // Reserved slots (Ticket#keepFree) are slots left free; on a share of the caps, that share of them (rounded
        // up: a reserve of 1 stays 1).
        int free = free();
        if (free <= 0 || free - 1 < (ticket.keepFree() + share - 1) / share) {
            return null;
        }
        int cap = shared(clientCap.applyAsInt(ticket.clientId()));
        int clientNow = clientInFlight.getOrDefault(ticket.clientId(), 0);
        if (cap > 0 && clientNow >= cap) {
            return null;
        }
        Choice choice = choose(ticket.model(), Set.of(), true);
        if (choice == null) {
            return null;
        }
        return take(choice, ticket.clientId(), ticket.model(), onRelease);
    }

    /**
     * Takes a slot on the named host for {@code ticket} without checking any cap: coordination has already won
     * the shared slots for it across the replicas. Null when no such host is configured now.
     */
    public synchronized HostLease take(Ticket<HostLease> ticket, String hostName, String reason, Runnable onRelease) {
        Host host = fleet.host(hostName);
        return host == null ? null : take(new Choice(host, reason), ticket.clientId(), ticket.model(), onRelease);
    }

    private HostLease take(Choice choice, String clientId, String model, Runnable onRelease) {
        choice.host().slotsInUse++;
        modelSlots.take(choice.host(), model);
        inFlight++;
        clientInFlight.merge(clientId, 1, Integer::sum);
        return new HostLease(choice.host(), choice.reason(), clientId, model, onRelease);
    }

    /**
     * The hosts able to serve {@code canonicalModel} now, most preferred first, whatever their free slots (the
     * candidates a coordinated dispatch asks the shared slots for), with why each would be chosen.
     */
    public synchronized List<Choice> able(String canonicalModel) {
        List<Choice> out = new ArrayList<>();
        Set<String> tried = new java.util.HashSet<>();
        Map<Host, Long> credits = new HashMap<>();
        fleet.hosts().forEach(h -> credits.put(h, h.credit));
        Choice c;
        while ((c = choose(canonicalModel, tried, false)) != null) {
            out.add(c);
            tried.add(c.host().name());
        }
        // Listing is not choosing: the rotation's credits stay as they were.
        credits.forEach((h, credit) -> h.credit = credit);
        return out;
    }

    /** Whether {@code routing.protect_cold_loads} is on (coordination then coalesces cold loads across replicas). */
    public synchronized boolean protectColdLoads() {
        return routing.protectColdLoads();
    }

    /**
     * Takes a snapshot of the host's requests in flight over every replica (coordination's heartbeat): until the
     * next one, the host counts as busy with the other replicas' part of it plus this replica's own in flight now.
     * Eventually consistent; 0 when alone. Unknown host: ignored.
     */
    public synchronized void sharedInFlight(String hostName, int allReplicas) {
        Host host = fleet.host(hostName);
        if (host != null) {
            host.othersInFlight = Math.max(0, allReplicas - host.slotsInUse);
        }
    }

    /**
     * Runs this replica on its share of every cap: {@code max(1, cap / replicas)} of the global cap, of each
     * client's and of each host's slots (coordination degraded with {@code on_failure: local_share}); 1 = whole.
     */
    public synchronized void share(int replicas) {
        this.share = Math.max(1, replicas);
    }

    /** {@code cap} under the current share; 0 (no cap) stays 0. */
    private int shared(int cap) {
        return share <= 1 || cap <= 0 ? cap : Math.max(1, cap / share);
    }

    /**
     * A host for a request that is not queued (metadata such as {@code /api/show}): the same choice without
     * slots. Null when no usable host is left outside {@code tried}.
     */
    public synchronized Choice pick(String canonicalModel, Set<String> tried) {
        return choose(canonicalModel, tried, false);
    }

    /** The choice rule of the class comment; must hold the monitor (rotation credits, in-flight counts). */
    private Choice choose(String model, Set<String> tried, boolean needSlot) {
        List<Host> hosts = fleet.hosts();
        boolean anyAble = false;
        for (Host host : hosts) {
            Host.Level level = host.level(model);
            // A host that is down, or failed this request, but has the model keeps the request for the hosts
            // with it: it waits for one of them (or its failover ends) rather than go to a host that would
            // answer "not found".
            if (candidate(host, tried) ? level != Host.Level.ABSENT : level.compareTo(Host.Level.INSTALLED) >= 0) {
                anyAble = true;
                break;
            }
        }
        boolean fallback = !anyAble;
        List<Host> preferred = new ArrayList<>();
        Host.Level bestLevel = null;
        for (Host host : hosts) {
            if (!candidate(host, tried) || needSlot && full(host, model)) {
                continue;
            }
            Host.Level level = host.level(model);
            if (!fallback && level == Host.Level.ABSENT) {
                continue;
            }
            int order = preferred.isEmpty() ? 1 : compare(host, level, preferred.get(0), bestLevel);
            if (order > 0) {
                preferred.clear();
                bestLevel = level;
            }
            if (order >= 0) {
                preferred.add(host);
            }
        }
        if (preferred.isEmpty()) {
            return null;
        }
        Host best = rotate(preferred);
        String reason = fallback ? "fallback" : switch (routing.strategy()) {
            case MODEL_AWARE -> bestLevel.name().toLowerCase(Locale.ROOT);
            case LEAST_BUSY -> "least_busy";
            case ROUND_ROBIN -> "round_robin";
        };
        return new Choice(best, reason);
    }

    /** True when {@code host} has no free slot, or none for {@code model} (its per-model cap); holds the monitor. */
    private boolean full(Host host, String model) {
        return host.slotsInUse >= shared(host.config().maxConcurrent())
                || modelSlots.full(host, model, shared(host.rules().maxConcurrent(model)));
    }

    /**
     * The smooth weighted rotation among equally preferred hosts (class comment): each earns its weight, the
     * richest (first in config order on a tie) is chosen and pays the sum of their weights.
     */
    private static Host rotate(List<Host> preferred) {
        if (preferred.size() == 1) {
            // Earning its weight and paying it back: nothing changes.
            return preferred.get(0);
        }
        long total = 0;
        Host best = null;
        for (Host host : preferred) {
            host.credit += host.config().weight();
            total += host.config().weight();
            if (best == null || host.credit > best.credit) {
                best = host;
            }
        }
        best.credit -= total;
        return best;
    }

    private static boolean candidate(Host host, Set<String> tried) {
        return host.usable() && !tried.contains(host.name());
    }

    /** Positive when {@code host} is preferred to {@code best}, 0 when they are equally preferred. */
    private int compare(Host host, Host.Level level, Host best, Host.Level bestLevel) {
        RoutingConfig.Strategy strategy = routing.strategy();
        if (strategy == RoutingConfig.Strategy.ROUND_ROBIN) {
            return 0;
        }
        if (strategy == RoutingConfig.Strategy.MODEL_AWARE && level != bestLevel) {
            return level.compareTo(bestLevel);
        }
        // Fewer in flight per unit of weight: a / wa < b / wb, compared without division.
        long mine = (long) (host.slotsInUse + host.othersInFlight) * best.config().weight();
        long theirs = (long) (best.slotsInUse + best.othersInFlight) * host.config().weight();
        return Long.compare(theirs, mine);
    }

    private synchronized void release(HostLease lease) {
        lease.host.slotsInUse--;
        modelSlots.release(lease.host, lease.model);
        inFlight--;
        clientInFlight.computeIfPresent(lease.clientId, (id, k) -> k <= 1 ? null : k - 1);
    }

    /** Moves a lease's host slot for a failover; see {@link HostLease#failover}. */
    private synchronized Host move(HostLease lease, Set<String> tried) {
        if (lease.released.get()) {
            return null;
        }
        Choice choice = choose(lease.model, tried, true);
        if (choice == null) {
            // Every able host left is full (its slots, or its cap for the model): a failover is not sent back to
            // the queue, it over-commits one slot of the best of them (Ollama queues it there) rather than fail a
            // request a host could still serve.
            choice = choose(lease.model, tried, false);
        }
        if (choice == null) {
            return null;
        }
        lease.host.slotsInUse--;
        modelSlots.release(lease.host, lease.model);
        choice.host().slotsInUse++;
        modelSlots.take(choice.host(), lease.model);
        lease.host = choice.host();
        return choice.host();
    }

    /** Whether the named host has {@code canonicalModel} in memory, as its last inventory says (false if unknown). */
    public synchronized boolean loaded(String hostName, String canonicalModel) {
        Host host = fleet.host(hostName);
        return host != null && host.level(canonicalModel) == Host.Level.LOADED;
    }

    /** Requests in flight across the fleet. */
    public synchronized int inFlight() {
        return inFlight;
    }

    /** Requests in flight on the named host (0 for an unknown name). */
    public synchronized int inFlight(String hostName) {
        Host host = fleet.host(hostName);
        return host == null ? 0 : host.slotsInUse;
    }

    /** Requests of {@code canonicalModel} in flight on {@code host}. */
    public synchronized int inFlight(Host host, String canonicalModel) {
        return modelSlots.inUse(host, canonicalModel);
    }

    /** The models with requests in flight on {@code host}, and how many each. */
    public synchronized Map<String, Integer> modelsInFlight(Host host) {
        return modelSlots.of(host);
    }

    /** Requests in flight on {@code host} (also a retired one). */
    public synchronized int inFlight(Host host) {
        return host.slotsInUse;
    }

    /** Requests of {@code clientId} in flight. */
    public synchronized int clientInFlight(String clientId) {
        return clientInFlight.getOrDefault(clientId, 0);
    }

    /** The {@code max_concurrent} of {@code clientId} in force; 0 = no cap. */
    public synchronized int clientCap(String clientId) {
        return clientCap.applyAsInt(clientId);
    }

    /** The ids of the clients with requests in flight now. */
    public synchronized Set<String> clientsInFlight() {
        return Set.copyOf(clientInFlight.keySet());
    }

    /** The global cap in force (the configured one, or the sum of host slots). */
    public synchronized int globalCap() {
        return globalCap;
    }

    @Override
    public int slots() {
        return globalCap();
    }

    /**
     * The slots a request could take now, as far as the caps go: the global cap's free slots, but no more than the
     * usable hosts' free slots together (a global cap above the hosts' sum, or a host down, leaves fewer than the
     * global cap says); on a share of the caps, the share.
     */
    @Override
    public synchronized int free(int leasesInFlight) {
        return free();
    }

    private int free() {
        int hostsFree = 0;
        for (Host host : fleet.hosts()) {
            if (host.usable()) {
                hostsFree += Math.max(0, shared(host.config().maxConcurrent()) - host.slotsInUse);
            }
        }
        return Math.min(shared(globalCap) - inFlight, hostsFree);
    }

    /** The slots of one dispatched request; released exactly once whatever calls {@link #release()}. */
    public final class HostLease implements Lease {
        private final String reason;
        private final String clientId;
        private final String model;
        private final AtomicBoolean released = new AtomicBoolean();
        private final Runnable onRelease;
        // Guarded by the pool's monitor for writes; read by the request's own threads in sequence.
        private volatile Host host;
        private volatile Consumer<Host> onMove;

        private HostLease(Host host, String reason, String clientId, String model, Runnable onRelease) {
            this.host = host;
            this.onRelease = onRelease;
            this.reason = reason;
            this.clientId = clientId;
            this.model = model;
        }

        /** The host the request goes to. */
        public Host host() {
            return host;
        }

        /** Why that host was chosen. */
        public String reason() {
            return reason;
        }

        /**
         * The request could not be sent to its host: moves its host slot (and its per-model slot) to the best other
         * able host not in {@code tried} (a free slot if there is one, else over-committing one, the per-model cap
         * included). Global and client slots stay.
         *
         * @return the new host, or null when none is left (the lease is unchanged then)
         */
        public Host failover(Set<String> tried) {
            Host moved = move(this, tried);
            Consumer<Host> hook = onMove;
            if (moved != null && hook != null) {
                hook.accept(moved);
            }
            return moved;
        }

        /**
         * Runs {@code hook} with the new host each time a failover moves this lease (coordination moves its shared
         * slot with it); set once, right after the lease is taken.
         */
        public void onMove(Consumer<Host> hook) {
            this.onMove = hook;
        }

        @Override
        public void release() {
            if (released.compareAndSet(false, true)) {
                SlotPool.this.release(this);
                if (onRelease != null) {
                    onRelease.run();
                }
            }
        }
    }
}
