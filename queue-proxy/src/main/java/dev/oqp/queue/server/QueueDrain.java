package dev.oqp.queue.server;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import dev.oqp.common.config.Durations;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.Scheduler;
import dev.oqp.queue.scheduler.Snapshot;
import org.eclipse.jetty.server.Server;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The queue's part of a stop: accept nothing new, let the queue drain, and answer what still waits just before
 * the drain timeout ends (503 with {@code Retry-After}), so that every queued client gets an answer.
 */
final class QueueDrain {
    private static final Logger LOG = LoggerFactory.getLogger(QueueDrain.class);
    /** Queued requests are answered this long before {@code drain_timeout} ends, so their 503 gets written. */
    private static final long FLUSH_MARGIN_MILLIS = 500;

    private QueueDrain() {
    }

    static void begin(Scheduler<?> scheduler, SlotPool pool, Server server, Duration drainTimeout) {
        Snapshot s = scheduler.snapshot();
        LOG.atInfo().addKeyValue("queued", s.totalDepth()).addKeyValue("in_flight", pool.inFlight())
                .addKeyValue("drain_timeout", Durations.format(drainTimeout))
                .log("stopping: no new connections or requests; queued and in-flight requests may finish");
        scheduler.drain(null);
        long flushIn = Math.max(0, drainTimeout.toMillis() - FLUSH_MARGIN_MILLIS);
        server.getScheduler().schedule(() -> {
            int flushed = scheduler.flush(null);
            if (flushed > 0) {
                LOG.atWarn().addKeyValue("flushed", flushed)
                        .log("drain timeout: requests still queued were answered 503 with Retry-After");
            }
        }, flushIn, TimeUnit.MILLISECONDS);
    }
}
