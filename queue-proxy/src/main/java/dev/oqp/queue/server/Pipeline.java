package dev.oqp.queue.server;

import java.util.concurrent.Executor;
import java.util.function.BooleanSupplier;

import dev.oqp.common.config.OqpConfig;
import dev.oqp.queue.auth.FailureLimiter;
import dev.oqp.queue.auth.KeyRegistry;
import dev.oqp.queue.cache.CacheService;
import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.routing.FleetMonitor;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.Scheduler;

/** What every port's {@link Gate} shares: the configuration snapshot and the parts built from it. */
final class Pipeline {
    // Replaced by a reload (QueueProxy.reload), each an immutable snapshot: a request reads what is in force.
    volatile OqpConfig config;
    volatile KeyRegistry keys;
    volatile FailureLimiter limiter;
    final SlotPool pool;
    final Scheduler scheduler;
    final Forwarder forwarder;
    final QueueMetrics metrics;
    final Ledger ledger;
    final Executor executor;
    final Fleet fleet;
    final FleetMonitor monitor;
    final OwnEndpoints own;
    final MergedLists merged;
    final dev.oqp.queue.limits.RateLimiter rates;
    final dev.oqp.queue.limits.UsageLedger usage;
    /** The embedding cache, or null when {@code embedding_cache.enabled} is false. */
    volatile CacheService cache;
    /** Bytes of inference bodies being read at once: at most {@code queue.max_queued_bytes}. */
    final BodyReader.Budget bodies;
    private final BooleanSupplier stopping;

    Pipeline(OqpConfig config, KeyRegistry keys, FailureLimiter limiter, SlotPool pool, Scheduler scheduler,
             Forwarder forwarder, QueueMetrics metrics, Ledger ledger, Executor executor,
             Fleet fleet, FleetMonitor monitor, CacheService cache, dev.oqp.queue.limits.RateLimiter rates,
             dev.oqp.queue.limits.UsageLedger usage, BooleanSupplier stopping) {
        this.config = config;
        this.keys = keys;
        this.limiter = limiter;
        this.pool = pool;
        this.scheduler = scheduler;
        this.forwarder = forwarder;
        this.metrics = metrics;
        this.ledger = ledger;
        this.executor = executor;
        this.fleet = fleet;
        this.monitor = monitor;
        this.cache = cache;
        this.rates = rates;
        this.usage = usage;
        this.stopping = stopping;
        this.own = new OwnEndpoints(this);
        this.merged = new MergedLists(this);
        this.bodies = new BodyReader.Budget(config.queue().maxQueuedBytes());
    }

    /** {@code Retry-After} when no host is usable: unhealthy hosts are probed about every second. */
    long retryAfterNoHostSeconds() {
        long probeMillis = Math.min(config.ollama().healthCheckInterval().toMillis(),
                FleetMonitor.UNHEALTHY_PROBE_PERIOD.toMillis());
        return Math.max(1, (probeMillis + 999) / 1000);
    }

    /** True once the server is shutting down. */
    boolean stopping() {
        return stopping.getAsBoolean();
    }
}
