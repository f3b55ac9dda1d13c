package dev.oqp.queue.coordination;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import dev.oqp.common.config.CoordinationConfig;
import dev.oqp.common.config.QueueConfig;
import dev.oqp.queue.coordination.HeldLeases.Held;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.Capacity;
import dev.oqp.queue.scheduler.Scheduler;
import dev.oqp.queue.scheduler.Ticket;

/**
 * The scheduler's capacity when replicas coordinate: the slots of every host, client cap, per-(host, model) cap
 * ({@code ollama.hosts[].models}, {@code ollama.models}) and the global cap are leases in Valkey, shared by all
 * replicas, and a grant goes to the best-ranked live waiter whichever replica
 * holds it (see {@code acquire.lua} and docs/architecture.md).
 *
 * <p>{@link #tryAcquire} runs under the scheduler's lock and never waits: for a ticket with no shared grant yet it
 * lists the hosts this replica would choose (the {@link SlotPool}'s rule: health, models, load, weight), sends one
 * acquire script and returns null. When the script grants, the grant is recorded and a dispatch pass is run; that
 * pass finds it and takes the local slot on the granted host without a check (the shared one is already held).
 * A grant not taken within {@link #GRANT_HOLD_MILLIS}, or whose ticket left, is given back. A refused ticket is
 * left registered in the shared waiting index and asks again on the next pass: a "freed" message, a release here,
 * or the {@link Coordination#POLL}.
 *
 * <p>Cold-load coalescing: a ticket whose model no able host has in memory also sends the model's loading mark;
 * the script grants only the host that mark names (when this replica may use it), or marks the host it grants
 * (for {@link Coordination#loadingMark()}), so replicas asking for a cold model at once load it on one host.
 *
 * <p>Degraded ({@link Coordination.State#DEGRADED}): {@code local_share} takes local slots from the pool run on its
 * share of every cap, {@code closed} takes none (the intake answers 503). Leases taken then are tracked like the
 * others; the re-entry adopts every running lease of this replica into Valkey before the state is shared again,
 * so the others count them and none is leaked (they expire one lease after their last renewal in any case).
 */
public final class SharedSlots implements Capacity<SlotPool.HostLease> {
    /** How long a grant waits for its ticket's next dispatch pass before it is given back. */
    static final long GRANT_HOLD_MILLIS = 2000;
    /** Better-ranked waiters a grant looks at. */
    static final int SCAN = 64;
    /** Acquires in flight beyond this replica's free slots: the best waiters of a pass ask, the rest wait. */
    static final int EXTRA_ASKS = 4;

    private enum Step { IDLE, ASKING, GRANTED }

    /** A ticket's shared state; guarded by itself. */
    private static final class Pending {
        final String waiterId;
        Step step = Step.IDLE;
        boolean gone;
        Held grant;
        String reason;
        /** Per candidate host of the last ask: the model its (host, model) cap applies to, or "". */
        Map<String, String> capped = Map.of();
        long grantedAt;

        Pending(String waiterId) {
            this.waiterId = waiterId;
        }
    }

    private final SlotPool pool;
    private final Coordination coordination;
    private final Backend backend;
    private final Supplier<QueueConfig> queue;
    private final Map<Ticket<SlotPool.HostLease>, Pending> pending = new ConcurrentHashMap<>();
    private final HeldLeases leases;
    private final AtomicLong ids = new AtomicLong();
    private final AtomicBoolean wakePending = new AtomicBoolean();
    /** Acquire scripts sent and not answered yet. */
    private final AtomicInteger asking = new AtomicInteger();
    private volatile Scheduler<SlotPool.HostLease> scheduler;
    private volatile Executor executor;

    /** @param queue the queue settings in force (the waiting index ranks by {@code aging} and {@code max_wait}) */
    public SharedSlots(SlotPool pool, Coordination coordination, Supplier<QueueConfig> queue) {
        this.pool = pool;
        this.coordination = coordination;
        this.backend = coordination.backend();
        this.queue = queue;
        this.leases = new HeldLeases(pool, coordination);
    }

    /** Wires the scheduler this is the capacity of; its passes run on {@code executor}. Call before starting. */
    public void attach(Scheduler<SlotPool.HostLease> scheduler, Executor executor) {
        this.scheduler = scheduler;
        this.executor = executor;
        coordination.attach(this::wake, leases::adoptAll, this::stateChanged);
        coordination.onLeave(this::leaving);
        coordination.every(coordination.config().lease().dividedBy(3), leases::renewAll);
        coordination.every(Coordination.POLL, this::sweep);
    }

    /** True while inference requests must be refused ({@code on_failure: closed} and degraded). */
    public boolean refusing() {
        // Not while re-entering: the backend answers, requests wait the 1.5 heartbeats in the queue.
        return coordination.degraded() && !coordination.reentering()
                && coordination.config().onFailure() == CoordinationConfig.OnFailure.CLOSED;
    }

    /** Leases of this replica held now (tests). */
    int held() {
        return leases.size();
    }

    @Override
    public SlotPool.HostLease tryAcquire(Ticket<SlotPool.HostLease> ticket) {
        if (coordination.degraded()) {
            Pending p = pending.remove(ticket);
            if (p != null) {
                drop(p);
            }
            if (refusing() || coordination.reentering()) {
                return null;
            }
            String id = leaseId();
            SlotPool.HostLease lease = pool.tryAcquire(ticket, () -> leases.released(id));
            if (lease != null) {
                String model = lease.host().rules().maxConcurrent(ticket.model()) > 0 ? ticket.model() : "";
                leases.track(new Held(id, lease.host().name(), ticket.clientId(), model, ticket.model(), false), lease);
            }
            return lease;
        }
        Pending p = pending.computeIfAbsent(ticket, t -> new Pending(coordination.incarnation() + ":w" + ids.incrementAndGet()));
        synchronized (p) {
            if (p.step == Step.GRANTED) {
                pending.remove(ticket);
                // Used: a sweep that already holds this entry must not give the grant back.
                p.step = Step.IDLE;
                p.gone = true;
                Held grant = p.grant;
                SlotPool.HostLease lease = pool.take(ticket, grant.host(), p.reason, () -> leases.released(grant.id()));
                if (lease == null) {
                    leases.releaseShared(grant);
                    return null;
                }
                leases.track(grant, lease);
                return lease;
            }
            if (p.step == Step.IDLE) {
                ask(ticket, p);
            }
            return null;
        }
    }

    @Override
    public int slots() {
        return pool.globalCap();
    }

    @Override
    public void forget(Ticket<SlotPool.HostLease> ticket) {
        Pending p = pending.remove(ticket);
        if (p != null) {
            drop(p);
        }
    }

    /** Sends the acquire script for {@code ticket}; with {@code p}'s monitor held. */
    private void ask(Ticket<SlotPool.HostLease> ticket, Pending p) {
        // A dispatch pass tries the best waiters first: those past the budget ask at a later pass, so a fleet
        // with many waiting (client, model) pairs does not send one script per pair at every pass.
        if (asking.get() >= Math.max(0, pool.globalCap() - pool.inFlight()) + EXTRA_ASKS) {
            return;
        }
        List<SlotPool.Choice> able = pool.able(ticket.model());
        if (able.isEmpty()) {
            return;
        }
        String client = ticket.clientId();
        int clientCap = pool.clientCap(client);
        Map<String, String> reasons = new HashMap<>();
        List<String> keys = new ArrayList<>(List.of(backend.prefix + "global", backend.prefix + "client:" + client,
                backend.prefix + "waiting", backend.prefix + "waiter-data", backend.prefix + "incarnations"));
        StringBuilder names = new StringBuilder();
        List<String> hostArgs = new ArrayList<>();
        List<String> modelKeys = new ArrayList<>();
        List<String> modelCaps = new ArrayList<>();
        Map<String, String> capped = new HashMap<>();
        for (SlotPool.Choice c : able) {
            String name = c.host().name();
            reasons.put(name, c.reason());
            keys.add(backend.prefix + "host:" + name);
            hostArgs.add(name);
            hostArgs.add(Integer.toString(c.host().config().maxConcurrent()));
            names.append(names.length() == 0 ? "" : ",").append(name);
            int modelCap = c.host().rules().maxConcurrent(ticket.model());
            modelKeys.add(HeldLeases.hostModelKey(backend, name, ticket.model()));
            modelCaps.add(Integer.toString(modelCap));
            capped.put(name, modelCap > 0 ? ticket.model() : "");
        }
        QueueConfig q = queue.get();
        long aging = q.aging().toMillis();
        long offset = ticket.requested().ordinal() * (aging > 0 ? aging : 1_000_000_000_000L);
        String leaseId = leaseId();
        String data = coordination.incarnation() + "\n" + client + "\n" + clientCap + "\n" + names;
        List<String> args = new ArrayList<>(List.of(Long.toString(coordination.config().lease().toMillis()), leaseId,
                p.waiterId, Long.toString(offset), client, Integer.toString(clientCap),
                Integer.toString(pool.globalCap()), Integer.toString(SCAN), data, backend.prefix,
                coordination.epoch(), Long.toString(fairSpacingMillis()), client + "\n" + ticket.requested().yamlName(),
                Long.toString(q.tier(ticket.requested()).maxWait().toMillis())));
        args.addAll(hostArgs);
        String loading = coldEverywhere(ticket.model(), able) ? ticket.model() : null;
        if (loading != null) {
            // Cold-load coalescing: the first grant marks its host as loading the model; the others go there.
            keys.add(backend.prefix + "loading:" + ticket.model());
            args.add(Long.toString(coordination.loadingMark().toMillis()));
        }
        // Each candidate's (host, model) set and cap, after everything else (the script reads them from the end).
        keys.addAll(modelKeys);
        args.addAll(modelCaps);
        p.capped = capped;
        // Always last: the global slots that must stay free after this grant (reserves, as this replica sees them).
        args.add(Integer.toString(ticket.keepFree()));
        p.step = Step.ASKING;
        asking.incrementAndGet();
        backend.run(Backend.ACQUIRE, keys.toArray(String[]::new), args.toArray(String[]::new))
                .whenComplete((reply, failure) -> answered(p, leaseId, client, ticket.model(), loading != null,
                        reasons, (List<?>) reply, failure));
    }

    private void answered(Pending p, String leaseId, String client, String model, boolean cold,
                          Map<String, String> reasons, List<?> reply, Throwable failure) {
        // No pass on a refusal: the waiters held back by the budget ask at the next freed message or poll.
        asking.decrementAndGet();
        boolean wake = false;
        synchronized (p) {
            p.step = Step.IDLE;
            if (failure != null) {
                coordination.failed(failure);
            } else if (((Number) reply.get(0)).longValue() < 0) {
                // The backend's epoch is not the one this replica knows: it lost its data since.
                coordination.lost("epoch changed");
            } else if (((Number) reply.get(0)).longValue() == 1) {
                String host = String.valueOf(reply.get(1));
                Held grant = new Held(leaseId, host, client, p.capped.getOrDefault(host, ""), model, cold);
                if (p.gone) {
                    leases.releaseShared(grant);
                } else {
                    p.step = Step.GRANTED;
                    p.grant = grant;
                    p.reason = reasons.get(grant.host());
                    p.grantedAt = System.nanoTime();
                    wake = true;
                }
            } else if (p.gone) {
                forgetWaiter(p.waiterId);
            }
        }
        if (wake) {
            wake();
        }
    }

    /**
     * How far apart a client's successive requests of one tier are ranked in the shared waiting index: the time the
     * fleet takes to serve one request (the measured average service time over the global cap), at least 1 ms. A
     * client with n requests waiting over the replicas ranks its n-th as if it arrived n turns later, so another
     * client's request interleaves with them (see acquire.lua).
     */
    private long fairSpacingMillis() {
        Scheduler<SlotPool.HostLease> s = scheduler;
        long service = s == null ? 0 : s.averageServiceNanos();
        return Math.max(1, service / Math.max(1, pool.globalCap()) / 1_000_000);
    }

    /** True when cold loads are protected and no able host has {@code model} in memory, as far as this replica knows. */
    private boolean coldEverywhere(String model, List<SlotPool.Choice> able) {
        if (model == null || !pool.protectColdLoads()) {
            return false;
        }
        for (SlotPool.Choice c : able) {
            if (!c.cold(model)) {
                return false;
            }
        }
        return true;
    }

    /** A ticket left or went local: gives back its grant and its place in the waiting index. */
    private void drop(Pending p) {
        synchronized (p) {
            p.gone = true;
            if (p.step == Step.GRANTED) {
                leases.releaseShared(p.grant);
                p.step = Step.IDLE;
            }
            if (p.step == Step.IDLE && !coordination.degraded()) {
                forgetWaiter(p.waiterId);
            }
        }
    }

    /** Gives back grants that waited too long for their ticket (it was passed over, or its tier paused). */
    private void sweep() {
        long now = System.nanoTime();
        boolean any = false;
        for (Map.Entry<Ticket<SlotPool.HostLease>, Pending> e : pending.entrySet()) {
            Pending p = e.getValue();
            synchronized (p) {
                if (p.step == Step.GRANTED && now - p.grantedAt > TimeUnit.MILLISECONDS.toNanos(GRANT_HOLD_MILLIS)) {
                    leases.releaseShared(p.grant);
                    p.step = Step.IDLE;
                    any = true;
                }
            }
        }
        if (any) {
            wake();
        }
    }

    private void forgetWaiter(String waiterId) {
        backend.run(Backend.FORGET, new String[] {backend.prefix + "waiting", backend.prefix + "waiter-data"}, waiterId)
                .whenComplete((r, failure) -> {
                    if (failure != null) {
                        coordination.failed(failure);
                    }
                });
    }

    /** At stop: every lease held (count, then id, host, client, model each) and every waiter id, for the leave script. */
    private List<String> leaving() {
        List<Held> all = leases.all();
        for (Pending p : pending.values()) {
            synchronized (p) {
                if (p.step == Step.GRANTED) {
                    all.add(p.grant);
                }
            }
        }
        List<String> args = new ArrayList<>(List.of(Integer.toString(all.size())));
        for (Held h : all) {
            h.addTo(args);
        }
        pending.values().forEach(p -> args.add(p.waiterId));
        return args;
    }

    private void stateChanged() {
        boolean share = coordination.degraded()
                && coordination.config().onFailure() == CoordinationConfig.OnFailure.LOCAL_SHARE;
        pool.share(share ? coordination.lastLive() : 1);
    }

    /** Runs one dispatch pass soon, off the caller's thread; wake-ups that arrive meanwhile share it. */
    private void wake() {
        Scheduler<SlotPool.HostLease> s = scheduler;
        Executor e = executor;
        if (s != null && e != null && wakePending.compareAndSet(false, true)) {
            e.execute(() -> {
                wakePending.set(false);
                s.capacityChanged();
            });
        }
    }

    private String leaseId() {
        return coordination.incarnation() + ":" + ids.incrementAndGet();
    }
}
