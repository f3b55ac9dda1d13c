package dev.oqp.queue.coordination;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.routing.SlotPool;
import io.lettuce.core.SetArgs;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the replicas share about the hosts: the down marks and the requests in flight per host.
 *
 * <p><b>Down marks.</b> A host this replica finds down (a failed health check, or a request that could not connect)
 * is marked in Valkey ({@code {prefix}down:<host>}, value {@code <replica_id> <random>}, for
 * {@link Coordination#downMark()}) and published on the health channel: the other replicas mark it unhealthy at
 * once, before any request of theirs fails there. Each replica still polls its hosts, and an unhealthy host every
 * second: the one whose own check answers marks the host healthy again and deletes the mark. So a replica that is
 * wrong (partitioned from the host) keeps a healthy host away from the others for at most one probe period, and a
 * mark never outlives its TTL. A mark missed on the channel (reconnecting) is read by the next heartbeat snapshot;
 * each mark is applied once.
 *
 * <p><b>Busy hosts.</b> Every heartbeat the snapshot ({@code hosts.lua}) counts each host's live leases over all
 * replicas; the {@link SlotPool} ranks hosts by the other replicas' part of it plus its own requests in flight
 * now ({@code least_busy}, and {@code model_aware}'s tie-break). Eventually consistent: one heartbeat old at most.
 * Degraded: as alone (0).
 */
public final class SharedHealth implements Fleet.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(SharedHealth.class);
    /** The reason of a health change a down mark made: such a change is not published again. */
    static final String REMOTE = "marked down by replica ";

    private final Fleet fleet;
    private final SlotPool pool;
    private final Coordination coordination;
    private final Backend backend;
    /** Per host: the last mark applied here, so that each is applied once. */
    private final Map<String, String> applied = new ConcurrentHashMap<>();
    private volatile boolean counted;

    public SharedHealth(Fleet fleet, SlotPool pool, Coordination coordination) {
        this.fleet = fleet;
        this.pool = pool;
        this.coordination = coordination;
        this.backend = coordination.backend();
        backend.onHealth(this::message);
        fleet.addListener(this);
        coordination.every(coordination.config().heartbeat(), this::snapshot);
    }

    @Override
    public void healthChanged(Host host, Host.Health from, Host.Health to, String reason) {
        if (coordination.degraded() || host.retired()) {
            return;
        }
        if (to == Host.Health.UNHEALTHY && (reason == null || !reason.startsWith(REMOTE))) {
            markDown(host.name());
        } else if (to == Host.Health.HEALTHY) {
            // Only this replica's own check makes a host healthy: it answered, whoever marked it down.
            applied.remove(host.name());
            try {
                coordination.commands().del(downKey(host.name())).whenComplete((r, failure) -> {
                    if (failure != null) {
                        coordination.failed(failure);
                    }
                });
            } catch (RuntimeException e) {
                coordination.failed(e);
            }
        }
    }

    private void markDown(String host) {
        String mark = coordination.replicaId() + " " + Long.toHexString(ThreadLocalRandom.current().nextLong());
        applied.put(host, mark);
        var commands = coordination.commands();
        try {
            commands.set(downKey(host), mark, SetArgs.Builder.px(coordination.downMark().toMillis()))
                    .thenCompose(ok -> commands.publish(backend.healthChannel(), host + "\n" + mark))
                    .whenComplete((r, failure) -> {
                        if (failure != null) {
                            coordination.failed(failure);
                        }
                    });
        } catch (RuntimeException e) {
            // Not connected: the other replicas find the host down by their own checks, as alone.
            coordination.failed(e);
        }
    }

    /** A mark published by a replica: {@code <host>\n<mark>}. */
    private void message(String message) {
        int nl = message.indexOf('\n');
        if (nl > 0) {
            // Off Lettuce's event loop: the health change runs the fleet's listeners (the scheduler among them).
            coordination.later(0, () -> apply(message.substring(0, nl), message.substring(nl + 1)));
        }
    }

    /** Marks the host unhealthy here for another replica's mark, once per mark. */
    private void apply(String hostName, String mark) {
        if (mark.isEmpty() || mark.startsWith(coordination.replicaId() + " ")) {
            return;
        }
        Host host = fleet.host(hostName);
        if (host == null || !host.usable() || mark.equals(applied.put(hostName, mark))) {
            return;
        }
        String by = mark.substring(0, Math.max(0, mark.indexOf(' ')));
        LOG.atInfo().addKeyValue("host", hostName).addKeyValue("by", by)
                .log("host marked down by another replica; this replica's own checks decide when it is back");
        fleet.markUnhealthy(host, false, REMOTE + by);
    }

    /** The heartbeat's snapshot of the hosts: shared in-flight counts, and marks the channel may have missed. */
    private void snapshot() {
        List<Host> hosts = fleet.hosts();
        if (coordination.degraded() || hosts.isEmpty()) {
            if (counted) {
                counted = false;
                hosts.forEach(h -> pool.sharedInFlight(h.name(), pool.inFlight(h)));
            }
            return;
        }
        String[] keys = new String[hosts.size() * 2];
        for (int i = 0; i < hosts.size(); i++) {
            keys[2 * i] = backend.prefix + "host:" + hosts.get(i).name();
            keys[2 * i + 1] = downKey(hosts.get(i).name());
        }
        backend.run(Backend.HOSTS, keys).whenComplete((reply, failure) -> {
            if (failure != null) {
                coordination.failed(failure);
                return;
            }
            coordination.later(0, () -> counted((List<?>) reply, hosts));
        });
    }

    private void counted(List<?> values, List<Host> hosts) {
        for (int i = 0; i < hosts.size() && 2 * i + 1 < values.size(); i++) {
            String name = hosts.get(i).name();
            pool.sharedInFlight(name, ((Number) values.get(2 * i)).intValue());
            apply(name, String.valueOf(values.get(2 * i + 1)));
        }
        counted = true;
    }

    private String downKey(String host) {
        return backend.prefix + "down:" + host;
    }
}
