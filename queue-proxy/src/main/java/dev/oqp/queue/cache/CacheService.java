package dev.oqp.queue.cache;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;

import dev.oqp.common.config.EmbeddingCacheConfig;
import dev.oqp.queue.metrics.QueueMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedding cache as the pipeline uses it: plans a request's keys, looks them up and stores what the
 * upstream answered, counting hits, misses and errors per input item. Fails open: a backend failure is a
 * miss and an error count; the caller decides what {@code required: true} makes of it.
 */
public final class CacheService implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CacheService.class);

    private final EmbeddingCacheConfig config;
    private final EmbeddingCache backend;
    private final QueueMetrics metrics;
    /** Stores ended (stored, failed, or nothing to store): tests wait on it, stores finish after the answer. */
    private final AtomicLong storesEnded = new AtomicLong();

    public CacheService(EmbeddingCacheConfig config, EmbeddingCache backend, QueueMetrics metrics) {
        this.config = config;
        this.backend = backend;
        this.metrics = metrics;
    }

    /** The plan of a request on an embedding endpoint, or null when it is not cacheable. */
    public CachePlan plan(String path, byte[] body, String canonicalModel, String spelledModel, String clientId) {
        return CachePlan.of(path, body, canonicalModel, spelledModel,
                config.partition() == EmbeddingCacheConfig.Partition.CLIENT ? clientId : null,
                config.keyPrefix(), config.maxEntryBytes());
    }

    /**
     * Looks the plan's keys up and applies what was found. Completes with true when the backend answered,
     * false when it failed (every item then a miss); never exceptionally. Hits and misses are counted under
     * {@code client}, {@code model} (a bounded label) and {@code endpoint} (the path asked).
     */
    public CompletableFuture<Boolean> lookup(CachePlan plan, String client, String model, String endpoint) {
        CompletableFuture<byte[][]> values;
        try {
            values = backend.getAll(plan.lookupKeys());
        } catch (RuntimeException e) {
            values = CompletableFuture.failedFuture(e);
        }
        return values.handle((found, failure) -> {
            if (failure != null) {
                error(failure, "lookup");
                metrics.cacheLookup(client, model, endpoint, 0, plan.keys().size());
                return false;
            }
            int corrupt = plan.found(found);
            if (corrupt > 0) {
                metrics.cacheErrors.labelValues("corrupt").inc(corrupt);
            }
            int hits = plan.hits();
            metrics.cacheLookup(client, model, endpoint, hits, plan.keys().size() - hits);
            return true;
        });
    }

    /** Stores entries in the background; a failure is counted, never reported to a client. */
    public void store(Map<String, byte[]> entries) {
        if (entries.isEmpty()) {
            storesEnded.incrementAndGet();
            return;
        }
        CompletableFuture<Void> stored;
        try {
            stored = backend.putAll(entries);
        } catch (RuntimeException e) {
            stored = CompletableFuture.failedFuture(e);
        }
        stored.whenComplete((ignored, failure) -> {
            if (failure != null) {
                error(failure, "store");
            }
            storesEnded.incrementAndGet();
        });
    }

    /** Calls of {@link #store} that have ended. */
    public long storesEnded() {
        return storesEnded.get();
    }

    private void error(Throwable failure, String operation) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        String kind = cause instanceof EmbeddingCache.CacheFailure cf ? cf.kind() : "other";
        metrics.cacheErrors.labelValues(operation.equals("store") && kind.equals("other") ? "store" : kind).inc();
        if (LOG.isDebugEnabled()) {
            LOG.debug("embedding cache {} failed ({}): {}", operation, kind, cause.getMessage());
        }
    }

    /** True when a request may count on the cache: it is not required, or its backend answers. */
    public boolean ready() {
        return !config.required() || backend.available();
    }

    public boolean required() {
        return config.required();
    }

    public EmbeddingCacheConfig config() {
        return config;
    }

    public EmbeddingCache backend() {
        return backend;
    }

    @Override
    public void close() {
        backend.close();
    }
}
