package dev.oqp.queue.coordination;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

import dev.oqp.common.config.Tier;
import dev.oqp.queue.scheduler.QueueControls;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Queue controls that act on every replica: an operator's pause, resume, drain or flush sent to any one replica
 * (through the load balancer) applies to the queue of each.
 *
 * <p>The control is applied here at once, then published on the control channel (the other replicas apply it
 * within milliseconds). Pause and drain are also state, kept in {@code {p}controls} (one field per tier:
 * {@code paused} or {@code draining}; resume deletes it): each replica reads it every heartbeat and applies what
 * differs from what it applied last, so a replica that starts, missed a message or was cut off converges within
 * one heartbeat. A control given while the backend is down applies here and is written when it answers again (the
 * latest control per tier wins). A flush is an action, not state: it reaches the replicas connected then, and each
 * answers only for its own queue (the reply counts this replica's).
 */
public final class SharedControls implements QueueControls {
    private static final Logger LOG = LoggerFactory.getLogger(SharedControls.class);

    private final QueueControls local;
    private final Coordination coordination;
    private final Backend backend;
    private final String key;
    /** Per tier: the state applied here last ({@code paused}, {@code draining}, or absent = running). */
    private final Map<Tier, String> applied = new EnumMap<>(Tier.class);
    /** Tiers whose state this replica set and has not written to the backend yet. */
    private final Set<Tier> unwritten = EnumSet.noneOf(Tier.class);
    /** Bumped by every control applied here: a read sent before it is stale. */
    private final AtomicLong generation = new AtomicLong();

    public SharedControls(QueueControls local, Coordination coordination) {
        this.local = local;
        this.coordination = coordination;
        this.backend = coordination.backend();
        this.key = backend.prefix + "controls";
        backend.onControl(this::message);
        coordination.later(0, this::sync);
        coordination.every(coordination.config().heartbeat(), this::sync);
    }

    @Override
    public void pause(Tier tier) {
        control("pause", tier);
    }

    @Override
    public void resume(Tier tier) {
        control("resume", tier);
    }

    @Override
    public void drain(Tier tier) {
        control("drain", tier);
    }

    @Override
    public int flush(Tier tier) {
        int flushed = local.flush(tier);
        publish("flush", tier);
        return flushed;
    }

    private void control(String action, Tier tier) {
        synchronized (this) {
            generation.incrementAndGet();
            apply(action, tier);
            unwritten.addAll(tiers(tier));
        }
        write();
        publish(action, tier);
    }

    /** Applies a control to this replica's queue and records the state it leaves; with this monitor held. */
    private void apply(String action, Tier tier) {
        switch (action) {
            case "pause" -> local.pause(tier);
            case "resume" -> local.resume(tier);
            case "drain" -> local.drain(tier);
            case "flush" -> local.flush(tier);
            default -> {
                return;
            }
        }
        String state = switch (action) {
            case "pause" -> "paused";
            case "drain" -> "draining";
            default -> null;
        };
        if (!action.equals("flush")) {
            for (Tier t : tiers(tier)) {
                if (state == null) {
                    applied.remove(t);
                } else {
                    applied.put(t, state);
                }
            }
        }
    }

    /** Writes the state of the tiers controlled here and not written yet (the latest control per tier). */
    private void write() {
        Map<Tier, String> pending = new EnumMap<>(Tier.class);
        synchronized (this) {
            for (Tier t : unwritten) {
                pending.put(t, applied.get(t));
            }
            unwritten.clear();
        }
        for (Map.Entry<Tier, String> e : pending.entrySet()) {
            Tier t = e.getKey();
            try {
                var command = e.getValue() == null ? coordination.commands().hdel(key, t.yamlName())
                        : coordination.commands().hset(key, t.yamlName(), e.getValue());
                command.whenComplete((r, failure) -> {
                    if (failure != null) {
                        unwrittenAgain(t);
                    }
                });
            } catch (RuntimeException failure) {
                unwrittenAgain(t);
            }
        }
    }

    private synchronized void unwrittenAgain(Tier tier) {
        unwritten.add(tier);
    }

    private void publish(String action, Tier tier) {
        try {
            coordination.commands().publish(backend.controlChannel(), coordination.incarnation() + "\n" + action + "\n"
                    + (tier == null ? "all" : tier.yamlName())).whenComplete((r, failure) -> { });
        } catch (RuntimeException e) {
            // Not connected: the state is written when it is, and the others read it at their next heartbeat.
        }
    }

    /** Another replica's control. */
    private void message(String message) {
        String[] parts = message.split("\n", -1);
        if (parts.length != 3 || parts[0].equals(coordination.incarnation())) {
            return;
        }
        Tier tier = parts[2].equals("all") ? null : tier(parts[2]);
        if (tier == null && !parts[2].equals("all")) {
            return;
        }
        LOG.atInfo().addKeyValue("action", parts[1]).addKeyValue("tier", parts[2])
                .log("queue control from another replica applied here");
        synchronized (this) {
            generation.incrementAndGet();
            apply(parts[1], tier);
        }
    }

    /** Every heartbeat: writes what is unwritten, then reads the shared state and applies what differs. */
    private void sync() {
        if (coordination.degraded()) {
            return;
        }
        write();
        long readAt = generation.get();
        try {
            coordination.commands().hgetall(key).whenComplete((state, failure) -> {
                if (failure == null && state != null) {
                    converge(state, readAt);
                }
            });
        } catch (RuntimeException e) {
            // Not connected: the next heartbeat reads it.
        }
    }

    private synchronized void converge(Map<String, String> state, long readAt) {
        if (generation.get() != readAt || !unwritten.isEmpty()) {
            // A control was applied since the read was sent: the next read sees it.
            return;
        }
        for (Tier t : Tier.values()) {
            String shared = state.get(t.yamlName());
            if (shared != null && !shared.equals("paused") && !shared.equals("draining")) {
                shared = null;
            }
            if (!java.util.Objects.equals(shared, applied.get(t))) {
                apply(shared == null ? "resume" : shared.equals("paused") ? "pause" : "drain", t);
            }
        }
    }

    private static Set<Tier> tiers(Tier tier) {
        return tier == null ? EnumSet.allOf(Tier.class) : EnumSet.of(tier);
    }

    private static Tier tier(String name) {
        try {
            return Tier.valueOf(name.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
