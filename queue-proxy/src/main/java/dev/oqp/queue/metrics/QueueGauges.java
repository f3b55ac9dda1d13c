package dev.oqp.queue.metrics;

import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

import dev.oqp.common.config.Tier;
import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.Reserve;
import dev.oqp.queue.scheduler.Scheduler;
import dev.oqp.queue.scheduler.Snapshot;

/** The queue proxy's gauges: values read from the queue, the slots and the fleet when {@code /metrics} is scraped. */
public final class QueueGauges {
    private QueueGauges() {
    }

    /**
     * Registers the gauges read at scrape time on {@code metrics}: queue depth, slots in use, each host's health,
     * in-flight requests and inventory, each configured client's in-flight requests and requests waiting at its cap,
     * each tier's reserved slots held by other tiers, uptime.
     *
     * @param configuredClients the client ids the configuration in force names (a reload may change them)
     */
    public static void register(QueueMetrics metrics, Scheduler<?> scheduler, SlotPool pool, Fleet fleet,
                                Supplier<Set<String>> configuredClients) {
        // The host counters exist from the start at 0 (as the Python tool's did), not from a host's first request.
        fleet.hosts().forEach(host -> metrics.host(host.name()));
        metrics.gauge("oqp_queue_depth", "Requests waiting in the queue, by the tier they were admitted into",
                new String[] {"tier"}, cb -> {
                    Snapshot s = scheduler.snapshot();
                    for (Tier t : Tier.values()) {
                        cb.call(s.depth().get(t), t.yamlName());
                    }
                });
        metrics.gauge("oqp_concurrency_active", "Requests in flight upstream across the fleet", new String[0],
                cb -> cb.call(pool.inFlight()));
        metrics.gauge("oqp_host_inflight", "Requests in flight on each host", new String[] {"host"}, cb -> {
            for (Host host : fleet.hosts()) {
                cb.call(pool.inFlight(host), host.name());
            }
        });
        metrics.gauge("oqp_host_healthy", "1 when the host's last health check answered, else 0 (labels name and"
                + " host: both the host's name)", QueueMetrics.HOST_LABELS, cb -> {
                    for (Host host : fleet.hosts()) {
                        cb.call(host.health() == Host.Health.HEALTHY ? 1 : 0, host.name(), host.name());
                    }
                });
        metrics.gauge("oqp_host_models_installed", "Models the host's /api/tags listed at the last poll",
                new String[] {"host"}, cb -> {
                    for (Host host : fleet.hosts()) {
                        cb.call(host.inventory().installed().size(), host.name());
                    }
                });
        metrics.gauge("oqp_host_models_loaded", "Models in the host's memory (/api/ps at the last poll, plus models"
                + " served since)", new String[] {"host"}, cb -> {
                    for (Host host : fleet.hosts()) {
                        cb.call(host.inventory().loaded().size(), host.name());
                    }
                });
        metrics.gauge("oqp_client_inflight", "Requests in flight upstream for each configured client (labels"
                + " client_id and client: both the client id)", QueueMetrics.CLIENT_LABELS, cb -> {
                    for (String client : configuredClients.get()) {
                        cb.call(pool.clientInFlight(client), client, client);
                    }
                });
        metrics.gauge("oqp_client_cap_waiting", "Requests waiting in the queue while their client is at its"
                + " max_concurrent, for each configured client with a cap (labels client_id and client: both the"
                + " client id)", QueueMetrics.CLIENT_LABELS, cb -> {
                    Map<String, Integer> queued = scheduler.snapshot().queuedPerClient();
                    for (String client : configuredClients.get()) {
                        int cap = pool.clientCap(client);
                        if (cap > 0) {
                            boolean atCap = pool.clientInFlight(client) >= cap;
                            cb.call(atCap ? queued.getOrDefault(client, 0) : 0, client, client);
                        }
                    }
                });
        metrics.gauge("oqp_reserved_slots_borrowed", "Reserved slots of each tier (queue.<tier>.reserved_slots) held"
                + " now by requests of other tiers", new String[] {"tier"}, cb -> {
                    for (Reserve r : scheduler.reserves()) {
                        cb.call(r.borrowed(), r.tier().yamlName());
                    }
                });
        metrics.gauge("oqp_uptime_seconds", "Seconds since the proxy started", new String[0],
                cb -> cb.call(metrics.uptime()));
    }
}
