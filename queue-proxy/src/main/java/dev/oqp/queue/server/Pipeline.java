package dev.oqp.queue.server;

import java.util.Map;
import java.util.concurrent.Executor;
import java.util.function.BooleanSupplier;

import dev.oqp.common.config.HostConfig;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.queue.auth.FailureLimiter;
import dev.oqp.queue.auth.KeyRegistry;
import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.Scheduler;

/** What every port's {@link Gate} shares: the configuration snapshot and the parts built from it. */
final class Pipeline {
    final OqpConfig config;
    final KeyRegistry keys;
    final FailureLimiter limiter;
    final SlotPool pool;
    final Scheduler scheduler;
    final Forwarder forwarder;
    final QueueMetrics metrics;
    final Ledger ledger;
    final Executor executor;
    final Map<String, HostConfig> hosts;
    final OwnEndpoints own;
    /** Bytes of inference bodies being read at once: at most {@code queue.max_queued_bytes}. */
    final BodyReader.Budget bodies;
    private final BooleanSupplier stopping;

    Pipeline(OqpConfig config, KeyRegistry keys, FailureLimiter limiter, SlotPool pool, Scheduler scheduler,
             Forwarder forwarder, QueueMetrics metrics, Ledger ledger, Executor executor,
             Map<String, HostConfig> hosts, BooleanSupplier stopping) {
        this.config = config;
        this.keys = keys;
        this.limiter = limiter;
        this.pool = pool;
        this.scheduler = scheduler;
        this.forwarder = forwarder;
        this.metrics = metrics;
        this.ledger = ledger;
        this.executor = executor;
        this.hosts = Map.copyOf(hosts);
        this.stopping = stopping;
        this.own = new OwnEndpoints(this);
        this.bodies = new BodyReader.Budget(config.queue().maxQueuedBytes());
    }

    /** True once the server is shutting down. */
    boolean stopping() {
        return stopping.getAsBoolean();
    }
}
