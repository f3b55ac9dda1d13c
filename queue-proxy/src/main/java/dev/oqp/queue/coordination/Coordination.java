package dev.oqp.queue.coordination;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import dev.oqp.common.config.CoordinationConfig;
import dev.oqp.common.config.HostConfig;
import dev.oqp.common.config.KeyConfig;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.queue.metrics.QueueMetrics;
import io.lettuce.core.api.async.RedisAsyncCommands;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This replica's membership among the replicas sharing one Valkey ({@code coordination:}): a heartbeat every
 * {@code heartbeat} that records it alive for three of them, the live replicas and their config digests, and the
 * state, {@link State#SHARED} or {@link State#DEGRADED}. Any failed or timed-out command makes it degraded; a
 * heartbeat that succeeds makes it shared again, once the re-entry step (the slots adopting this replica's
 * running leases) has succeeded. Each change is logged once (WARN into degraded, INFO out of it) and shown by
 * {@code oqp_coordination_degraded} and {@code oqp_coordination_replicas}.
 *
 * <p>A lifecycle bean of the queue proxy's server. Its single thread runs the heartbeat, the lease renewal and
 * the wake-up poll; nothing here ever blocks a Jetty thread or the scheduler's lock.
 */
public final class Coordination extends AbstractLifeCycle {
    private static final Logger LOG = LoggerFactory.getLogger(Coordination.class);
    /** Fallback when a "freed" message is lost: waiting requests ask again this often. */
    static final Duration POLL = Duration.ofMillis(250);

    /** Shared: caps hold across the replicas. Degraded: the backend is unreachable, {@code on_failure} applies. */
    public enum State { SHARED, DEGRADED }

    /** One replica seen in the last heartbeat. */
    public record Replica(String id, String digest, long startedAtMillis, long expiresAtMillis) {
    }

    private final CoordinationConfig config;
    private final Duration healthInterval;
    private final Duration modelSyncInterval;
    /** Recomputed by {@link #reconfigure}: a reload changes what the replicas must agree on. */
    private volatile String digest;
    private final long startedAt = System.currentTimeMillis();
    private final Backend backend;
    private final ScheduledExecutorService timer;
    private volatile String incarnation;
    private volatile State state = State.DEGRADED;
    /** Completed when the state is first shared: the start waits a moment for it. */
    private final CompletableFuture<Void> firstShared = new CompletableFuture<>();
    /** False until the first change is logged: the start into shared is logged at INFO, into degraded at WARN. */
    private final AtomicBoolean announced = new AtomicBoolean();
    private volatile List<Replica> replicas = List.of();
    private volatile int lastLive = 1;
    private final RedisAsyncCommands<String, String> commands;
    private final AtomicBoolean reentering = new AtomicBoolean();
    private final AtomicLong failures = new AtomicLong();
    private volatile Runnable wake = () -> { };
    private volatile Supplier<CompletableFuture<?>> reentry = () -> CompletableFuture.completedFuture(null);
    private volatile Runnable stateChanged = () -> { };
    private volatile Supplier<List<String>> leaving = () -> List.of("0");
    /** The backend's epoch at the last heartbeat: it changes when the server lost its data (restart, flush). */
    private volatile String epoch;
    private final AtomicLong reentries = new AtomicLong();
    private final AtomicBoolean badEntryLogged = new AtomicBoolean();
    private final AtomicBoolean twinLogged = new AtomicBoolean();
    /** The incarnation before the last re-entry: the heartbeat removes it so its waiters count as dead. */
    private volatile String previousIncarnation = "";
    /** {@code <replica> <digest>} pairs already warned of as differing from this replica's configuration. */
    private final Set<String> digestWarned = ConcurrentHashMap.newKeySet();

    public Coordination(CoordinationConfig config, OqpConfig whole, QueueMetrics metrics) {
        this.config = config;
        this.healthInterval = whole.ollama().healthCheckInterval();
        this.modelSyncInterval = whole.ollama().modelSyncInterval();
        this.digest = digest(whole);
        this.backend = new Backend(config);
        this.commands = backend.commands();
        this.incarnation = newIncarnation();
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "oqp-coordination");
            t.setDaemon(true);
            return t;
        });
        metrics.gauge("oqp_coordination_degraded", "1 while this replica cannot reach the coordination backend"
                + " and runs on coordination.on_failure, else 0", new String[0], cb -> cb.call(degraded() ? 1 : 0));
        metrics.gauge("oqp_coordination_replicas", "Live replicas in the last heartbeat (the last known count while"
                + " degraded)", new String[0], cb -> cb.call(lastLive));
        metrics.gauge("oqp_coordination_reentries", "Re-entries since start: this replica's running leases put back"
                + " into the backend after an outage or after the backend lost them (restart, failover, flush)",
                new String[0], cb -> cb.call(reentries.get()));
    }

    /**
     * Wires the slots: {@code wake} runs a dispatch pass (on a freed slot, on the poll, on a state change);
     * {@code reentry} adopts this replica's running leases when the backend is back (its failure keeps the state
     * degraded); {@code stateChanged} runs after each change.
     */
    void attach(Runnable wake, Supplier<CompletableFuture<?>> reentry, Runnable stateChanged) {
        this.wake = wake;
        this.reentry = reentry;
        this.stateChanged = stateChanged;
    }

    @Override
    protected void doStart() {
        backend.onDisconnected(() -> failed(new io.lettuce.core.RedisConnectionException("connection lost")));
        backend.connect(m -> wake.run());
        long hb = config.heartbeat().toMillis();
        timer.scheduleWithFixedDelay(this::heartbeat, 0, hb, TimeUnit.MILLISECONDS);
        timer.scheduleWithFixedDelay(() -> wake.run(), POLL.toMillis(), POLL.toMillis(), TimeUnit.MILLISECONDS);
        // The first heartbeat decides the starting state; waiting a moment for it keeps the first requests shared.
        try {
            firstShared.get(config.timeout().toMillis() * 4, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // Not shared yet: announced as degraded below, and the heartbeats go on trying.
        }
        if (state != State.SHARED) {
            announce(State.DEGRADED, "not reachable at start");
        }
    }

    /** What a stop gives back: lease count, then (id, host, client) per lease, then waiter ids (the slots). */
    void onLeave(Supplier<List<String>> leaving) {
        this.leaving = leaving;
    }

    @Override
    protected void doStop() {
        timer.shutdownNow();
        if (state == State.SHARED) {
            // Leases and waiters of this replica go at once, and so does its place among the replicas.
            List<String> args = new ArrayList<>(List.of(replicaId(), incarnation, backend.prefix,
                    backend.freedChannel()));
            args.addAll(leaving.get());
            try {
                backend.run(Backend.LEAVE, new String[] {backend.prefix + "replicas", backend.prefix + "replica-data",
                    backend.prefix + "incarnations", backend.prefix + "waiting", backend.prefix + "waiter-data",
                    backend.prefix + "global"}, args.toArray(String[]::new))
                        .get(config.timeout().toMillis() * 2, TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                // Not in Valkey: the leases expire one lease after their last renewal, the replica after 3 heartbeats.
                LOG.atInfo().addKeyValue("replica", replicaId()).log("coordination: could not leave at stop (" + e
                        + "); its leases expire within one lease");
            }
        }
        backend.close();
    }

    /** Runs {@code task} every {@code period} on the coordination thread (the lease renewal). */
    void every(Duration period, Runnable task) {
        timer.scheduleWithFixedDelay(task, period.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Runs {@code task} once on the coordination thread after {@code millis}. */
    void later(long millis, Runnable task) {
        timer.schedule(task, millis, TimeUnit.MILLISECONDS);
    }

    /**
     * Async commands on the coordination connection, for the shared rate limits and usage (keys under
     * {@code {<key_prefix>}}): each fails at once while the backend is not connected.
     */
    public RedisAsyncCommands<String, String> commands() {
        return commands;
    }

    Backend backend() {
        return backend;
    }

    CoordinationConfig config() {
        return config;
    }

    /** How long a host marked down stays marked: twice {@code ollama.health_check_interval}, at least 2 s. */
    Duration downMark() {
        Duration d = healthInterval.multipliedBy(2);
        return d.compareTo(Duration.ofSeconds(2)) < 0 ? Duration.ofSeconds(2) : d;
    }

    /**
     * How long a "loading this model on that host" mark lives: twice {@code ollama.model_sync_interval} (by then
     * every replica's inventory lists the model loaded), at least the lease.
     */
    Duration loadingMark() {
        Duration d = modelSyncInterval.multipliedBy(2);
        return d.compareTo(config.lease()) < 0 ? config.lease() : d;
    }

    /** This process's current incarnation: {@code <replica_id>@<random>}, renewed on each re-entry. */
    String incarnation() {
        return incarnation;
    }

    public String replicaId() {
        return config.replicaId();
    }

    /**
     * A reload took effect: the digest the heartbeat shares (and queue controls carry) is that of {@code whole} from
     * now on, so replicas reloaded alike agree again and one reloaded alone is flagged.
     */
    public void reconfigure(OqpConfig whole) {
        String next = digest(whole);
        if (!next.equals(digest)) {
            LOG.atInfo().addKeyValue("digest", next).log("coordination: configuration digest now " + next);
            digest = next;
        }
    }

    /** This replica's config digest: caps, hosts, queue and coordination settings, never a secret. */
    public String digest() {
        return digest;
    }

    public State state() {
        return state;
    }

    public boolean degraded() {
        return state == State.DEGRADED;
    }

    /** Live replicas at the last heartbeat, this one included (empty before the first). */
    public List<Replica> replicas() {
        return replicas;
    }

    /** The live replica count at the last successful heartbeat (1 before any): what {@code local_share} divides by. */
    public int lastLive() {
        return lastLive;
    }

    /**
     * True from a heartbeat that found the backend again until the state is shared: this replica's running leases
     * are adopted and it takes no new slot meanwhile, while the other replicas adopt theirs.
     */
    public boolean reentering() {
        return reentering.get() && state == State.DEGRADED;
    }

    /** A command failed or timed out: the backend counts as unreachable until the next heartbeat succeeds. */
    void failed(Throwable failure) {
        failures.incrementAndGet();
        // Releases of requests cut by a stop fail once the backend is closed: not an outage.
        if (state == State.SHARED && !isStopping() && !isStopped()) {
            Throwable t = failure.getCause() != null && failure instanceof CompletionException
                    ? failure.getCause() : failure;
            announce(State.DEGRADED, t.getClass().getSimpleName() + ": " + t.getMessage());
        }
    }

    /** The backend's epoch this replica knows ("" before the first heartbeat): the acquire script checks it. */
    String epoch() {
        String e = epoch;
        return e == null ? "" : e;
    }

    /**
     * The backend lost this replica's state while it was shared (an empty restart, a failover, a flush, an
     * eviction: leases missing at a renewal, a new epoch): re-enters as after an outage, so its running leases
     * are counted again and it takes nothing new until the others have had the chance to put theirs back.
     */
    void lost(String reason) {
        if (state == State.SHARED && !reentering.get() && !isStopping() && !isStopped()) {
            reentering.set(true);
            announce(State.DEGRADED, "backend lost this replica's state: " + reason);
            reenter();
        }
    }

    private void heartbeat() {
        try {
            backend.connect(m -> wake.run());
            String data = digest + "\n" + startedAt;
            long ttl = config.heartbeat().toMillis() * 3;
            backend.run(Backend.HEARTBEAT, new String[] {backend.prefix + "replicas", backend.prefix + "replica-data",
                backend.prefix + "incarnations", backend.prefix + "epoch", backend.prefix + "waiting",
                backend.prefix + "waiter-data", backend.prefix + "sweep-cursor"}, replicaId(), Long.toString(ttl), data,
                    incarnation, Long.toHexString(ThreadLocalRandom.current().nextLong()), previousIncarnation)
                    .whenComplete((reply, failure) -> {
                        if (failure != null) {
                            failed(failure);
                        } else {
                            try {
                                seen((List<?>) reply);
                            } catch (RuntimeException e) {
                                LOG.warn("coordination heartbeat reply not understood", e);
                            }
                        }
                    });
        } catch (RuntimeException e) {
            LOG.warn("coordination heartbeat failed", e);
        }
    }

    private void seen(List<?> reply) {
        List<Replica> live = new ArrayList<>();
        long twins = reply.get(2) instanceof Number n ? n.longValue() : 0;
        if (twins > 0 && twinLogged.compareAndSet(false, true)) {
            LOG.atWarn().addKeyValue("replica", replicaId()).log("coordination: another live process has replica_id "
                    + replicaId() + " (logged once): each replica needs its own coordination.replica_id");
        }
        for (int i = 3; i + 2 < reply.size(); i += 3) {
            try {
                String id = String.valueOf(reply.get(i));
                long expires = (long) Double.parseDouble(String.valueOf(reply.get(i + 1)));
                String[] data = String.valueOf(reply.get(i + 2)).split("\n", 2);
                long started = data.length > 1 ? Long.parseLong(data[1]) : 0;
                live.add(new Replica(id, data[0], started, expires));
            } catch (RuntimeException e) {
                // Another writer (an older or foreign version) left an entry this one cannot read: skipped.
                if (badEntryLogged.compareAndSet(false, true)) {
                    LOG.atWarn().addKeyValue("entry", String.valueOf(reply.get(i))).log("coordination: replica"
                            + " entry not understood, skipped (logged once): " + e);
                }
            }
        }
        replicas = List.copyOf(live);
        for (Replica r : live) {
            if (!r.digest().equals(digest) && digestWarned.add(r.id() + " " + r.digest())) {
                // Caps are what each replica sends: one with other caps uses the fleet's by its own numbers.
                LOG.atWarn().addKeyValue("replica", r.id()).addKeyValue("digest", r.digest())
                        .log("coordination: replica " + r.id() + " runs another configuration (digest " + r.digest()
                                + ", this one " + digest + "): caps, limits and queue controls are only exact between"
                                + " replicas with the same configuration; its queue controls are ignored here");
            }
        }
        String now = String.valueOf(reply.get(1));
        String before = epoch;
        epoch = now;
        if (before != null && !before.equals(now)) {
            lost("epoch changed");
        }
        if (state == State.SHARED) {
            // Not while re-entering: a backend that restarted empty lists only the replicas that have had a
            // heartbeat since, and local_share must not divide by too few on the next outage.
            lastLive = Math.max(1, live.size());
        }
        if (state == State.DEGRADED && reentering.compareAndSet(false, true)) {
            reenter();
        }
    }

    /** Adopts this replica's running leases, then holds new grants for 1.5 heartbeats; then shared again. */
    private void reenter() {
        if (announced.get()) {
            reentries.incrementAndGet();
        }
        if (announced.get()) {
            // Waiters registered before the outage belong to the old incarnation: it is removed at the next
            // heartbeat, so they count as dead and are swept. At start nothing was registered: the incarnation the
            // first heartbeat registered stays, so the first waiters are live at once.
            previousIncarnation = incarnation;
            incarnation = newIncarnation();
        }
        long failuresBefore = failures.get();
        reentry.get().whenComplete((ok, failure) -> {
            if (failure != null) {
                reentering.set(false);
                LOG.debug("coordination re-entry failed", failure);
                return;
            }
            // The other replicas adopt their own running leases at their first heartbeat after the outage:
            // shared caps are used only once they have had that heartbeat, or the leases they took while
            // degraded would not be counted yet. (At start nothing runs, so no wait.)
            long grace = announced.get() ? config.heartbeat().toMillis() * 3 / 2 : 0;
            later(grace, () -> {
                reentering.set(false);
                if (failures.get() == failuresBefore) {
                    announce(State.SHARED, null);
                }
            });
        });
    }

    private synchronized void announce(State next, String reason) {
        boolean first = announced.compareAndSet(false, true);
        if (state == next && !first) {
            return;
        }
        state = next;
        if (next == State.SHARED) {
            firstShared.complete(null); // after the state is set: the start reads it next
        }
        if (next == State.DEGRADED && reentering.get()) {
            LOG.atWarn().addKeyValue("replica", replicaId()).addKeyValue("reason", reason)
                    .log("coordination degraded: " + reason + "; re-entering (running leases put back, no new"
                            + " dispatch for 1.5 heartbeats)");
        } else if (next == State.DEGRADED) {
            LOG.atWarn().addKeyValue("replica", replicaId()).addKeyValue("reason", reason)
                    .addKeyValue("on_failure", config.onFailure().name().toLowerCase(Locale.ROOT))
                    .log("coordination degraded: backend unreachable; "
                            + (config.onFailure() == CoordinationConfig.OnFailure.CLOSED
                                    ? "inference requests get 503 until it answers"
                                    : "each cap is shared by the last known " + lastLive + " live replica(s)"));
        } else {
            LOG.atInfo().addKeyValue("replica", replicaId()).addKeyValue("replicas", lastLive)
                    .log(first ? "coordination shared" : "coordination shared again: backend reachable");
        }
        stateChanged.run();
        wake.run();
    }

    private String newIncarnation() {
        return replicaId() + "@" + Long.toHexString(ThreadLocalRandom.current().nextLong());
    }

    /** What replicas must agree on: hosts and their slots, caps, queue settings, lease and prefix. */
    static String digest(OqpConfig c) {
        StringBuilder b = new StringBuilder();
        for (HostConfig h : c.ollama().hosts()) {
            b.append("host ").append(h.name()).append(' ').append(h.maxConcurrent()).append('\n');
        }
        b.append("global ").append(c.proxy().maxConcurrent()).append('\n');
        Map<String, Integer> caps = new TreeMap<>();
        for (KeyConfig k : c.auth().keys()) {
            caps.put(k.clientId(), k.maxConcurrent());
        }
        b.append("clients ").append(caps).append('\n');
        // Who may do what: a replica that lets more callers manage the queue must not steer the others.
        Map<String, String> scopes = new TreeMap<>();
        for (KeyConfig k : c.auth().keys()) {
            scopes.put(k.clientId(), k.scope() + "/" + k.maxPriority() + "/" + k.limits() + "/" + k.models());
        }
        b.append("auth ").append(c.auth().enabled()).append(' ').append(scopes).append('\n');
        b.append("queue ").append(c.queue()).append('\n');
        b.append("routing ").append(c.routing()).append('\n');
        b.append("lease ").append(c.coordination().lease()).append(' ').append(c.coordination().keyPrefix());
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(b.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d, 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
