package dev.oqp.queue.server;

import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.scheduler.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Health changes: logged once, counted, and the queue told (a host back may serve what waits; none left). */
final class FleetEvents implements Fleet.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(FleetEvents.class);

    private final QueueMetrics metrics;
    private final Fleet fleet;
    private final Scheduler<?> scheduler;

    FleetEvents(QueueMetrics metrics, Fleet fleet, Scheduler<?> scheduler) {
        this.metrics = metrics;
        this.fleet = fleet;
        this.scheduler = scheduler;
    }

    @Override
    public void healthChanged(Host host, Host.Health from, Host.Health to, String reason) {
        metrics.hostHealthChanges.labelValues(host.name(), to.label()).inc();
        if (to == Host.Health.HEALTHY) {
            if (from == Host.Health.UNHEALTHY) {
                LOG.atInfo().addKeyValue("host", host.name()).addKeyValue("reason", reason).log("host healthy again");
            } else {
                LOG.atInfo().addKeyValue("host", host.name()).log("host healthy");
            }
            scheduler.capacityChanged();
            return;
        }
        LOG.atWarn().addKeyValue("host", host.name()).addKeyValue("reason", reason)
                .log("host unhealthy: no requests go to it until a health check answers");
        if (!fleet.anyUsable()) {
            int answered = scheduler.flush(null);
            if (answered > 0) {
                LOG.atWarn().addKeyValue("answered", answered)
                        .log("no healthy host left: queued requests answered 503 with Retry-After");
            }
        }
    }

    @Override
    public void inventoryChanged(Host host) {
        scheduler.capacityChanged();
    }
}
