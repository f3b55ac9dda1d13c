package dev.oqp.queue.coordination;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
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
 * within milliseconds). Pause, drain and resume are also state, kept in {@code {p}controls} (one field per tier:
 * {@code <paused|draining|running>\n<ms>\n<digest>}, written by {@code control.lua} only over an older control):
 * each replica reads it every heartbeat and applies what differs from what it applied last, so a replica that
 * starts, missed a message or was cut off converges within one heartbeat. A control given while the backend is down
 * applies here and is written when it answers, unless a later one was given meanwhile through another replica
 * (then that one wins here too). A flush is an action, not state: it reaches the replicas connected then, and each
 * answers only for its own queue (the reply counts this replica's).
 *
 * <p>Only replicas with the same configuration digest (which covers auth and every key's scope) steer each other:
 * a control published or recorded by a replica with another configuration (one started without auth, say) is
 * ignored here, and {@link Coordination} warns of that replica once.
 */
public final class SharedControls implements QueueControls {
    private static final Logger LOG = LoggerFactory.getLogger(SharedControls.class);

    private final QueueControls local;
    private final Coordination coordination;
    private final Backend backend;
    private final String key;
    /** Per tier: the state applied here last ({@code paused}, {@code draining}, or absent = running). */
    private final Map<Tier, String> applied = new EnumMap<>(Tier.class);
    /** Per tier: the control given here and not written to the backend yet ({@code <state>\n<ms>\n<digest>}). */
    private final Map<Tier, String> unwritten = new EnumMap<>(Tier.class);
    /** Bumped by every control applied here: a read sent before it is stale. */
    private final AtomicLong generation = new AtomicLong();

    public SharedControls(QueueControls local, Coordination coordination) {
        this.local = local;
        this.coordination = coordination;
        this.backend = coordination.backend();
        this.key = backend.prefix + "controls";
        // Off Lettuce's event loop: a flush answers every waiting request of a tier.
        backend.onControl(message -> coordination.later(0, () -> message(message)));
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
        String value = state(action) + "\n" + System.currentTimeMillis() + "\n" + coordination.digest();
        synchronized (this) {
            generation.incrementAndGet();
            apply(action, tier);
            for (Tier t : tiers(tier)) {
                unwritten.put(t, value);
            }
        }
        if (coordination.degraded()) {
            LOG.atWarn().addKeyValue("action", action).addKeyValue("tier", name(tier))
                    .log("queue control applied to this replica only (coordination degraded); the others get it"
                            + " when the backend answers, unless another control was given through them since");
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
        if (!action.equals("flush")) {
            String state = state(action);
            for (Tier t : tiers(tier)) {
                if (state.equals("running")) {
                    applied.remove(t);
                } else {
                    applied.put(t, state);
                }
            }
        }
    }

    private static String state(String action) {
        return switch (action) {
            case "pause" -> "paused";
            case "drain" -> "draining";
            default -> "running";
        };
    }

    /** Writes the controls given here and not written yet (each only over an older one). */
    private void write() {
        Map<Tier, String> pending;
        synchronized (this) {
            pending = new EnumMap<>(unwritten);
            unwritten.clear();
        }
        pending.forEach((t, value) -> {
            try {
                backend.run(Backend.CONTROL, new String[] {key}, t.yamlName(), value).whenComplete((r, failure) -> {
                    if (failure != null) {
                        unwrittenAgain(t, value);
                    }
                });
            } catch (RuntimeException failure) {
                unwrittenAgain(t, value);
            }
        });
    }

    private synchronized void unwrittenAgain(Tier tier, String value) {
        unwritten.putIfAbsent(tier, value);
    }

    private void publish(String action, Tier tier) {
        try {
            coordination.commands().publish(backend.controlChannel(), coordination.incarnation() + "\n"
                    + coordination.digest() + "\n" + action + "\n" + name(tier)).whenComplete((r, failure) -> {
                        if (failure != null) {
                            LOG.atInfo().addKeyValue("action", action).log("queue control not published (" + failure
                                    + "); the other replicas read pause, drain and resume at their next heartbeat");
                        }
                    });
        } catch (RuntimeException e) {
            // Not connected: announced by the degraded state; the state is written when it is.
        }
    }

    /** Another replica's control. */
    private void message(String message) {
        String[] parts = message.split("\n", -1);
        if (parts.length != 4 || parts[0].equals(coordination.incarnation())) {
            return;
        }
        if (!parts[1].equals(coordination.digest())) {
            // Warned of once per replica by the heartbeat (Coordination).
            return;
        }
        Tier tier = parts[3].equals("all") ? null : tier(parts[3]);
        if (tier == null && !parts[3].equals("all")) {
            return;
        }
        LOG.atInfo().addKeyValue("action", parts[2]).addKeyValue("tier", parts[3])
                .log("queue control from another replica applied here");
        synchronized (this) {
            generation.incrementAndGet();
            apply(parts[2], tier);
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
            // A control was applied or is still to be written since the read was sent: the next read sees it.
            return;
        }
        for (Tier t : Tier.values()) {
            String[] recorded = state.getOrDefault(t.yamlName(), "running").split("\n", -1);
            if (recorded.length == 3 && !recorded[2].equals(coordination.digest())) {
                continue;
            }
            String shared = recorded[0].equals("paused") || recorded[0].equals("draining") ? recorded[0] : null;
            if (!Objects.equals(shared, applied.get(t))) {
                String action = shared == null ? "resume" : shared.equals("paused") ? "pause" : "drain";
                LOG.atInfo().addKeyValue("action", action).addKeyValue("tier", t.yamlName())
                        .log("queue control recorded by another replica applied here");
                apply(action, t);
            }
        }
    }

    private static Set<Tier> tiers(Tier tier) {
        return tier == null ? EnumSet.allOf(Tier.class) : EnumSet.of(tier);
    }

    private static String name(Tier tier) {
        return tier == null ? "all" : tier.yamlName();
    }

    private static Tier tier(String name) {
        try {
            return Tier.valueOf(name.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
