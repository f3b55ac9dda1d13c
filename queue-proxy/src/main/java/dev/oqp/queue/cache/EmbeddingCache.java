package dev.oqp.queue.cache;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import dev.oqp.common.config.EmbeddingCacheConfig;

/**
 * Where cached vectors live: one value per key, each the raw JSON of one input item's vector (see
 * {@link CachePlan}). Implementations never block the calling thread and never throw from these methods;
 * a backend failure is a future completed with a {@link CacheFailure}.
 */
public interface EmbeddingCache extends AutoCloseable {

    /** Begins connecting, for a backend that has a connection (in the background: never blocks). */
    default void start() {
    }

    /** The values of {@code keys} in the same order, null where there is none (or it expired). */
    CompletableFuture<byte[][]> getAll(List<String> keys);

    /** Stores each entry for the configured TTL; completes when stored (callers need not wait). */
    CompletableFuture<Void> putAll(Map<String, byte[]> entries);

    /** True while the backend can answer (always for memory; a live connection for Redis). */
    boolean available();

    /** Entries held, or -1 where the backend cannot tell them from others' (Redis). */
    default long entries() {
        return -1;
    }

    /** Bytes held (an estimate), or -1 where unknown. */
    default long bytes() {
        return -1;
    }

    /** What to call the backend in logs and status: {@code memory} or the URL without its password. */
    String describe();

    @Override
    void close();

    /** A backend failure, by kind: {@code timeout}, {@code connection} or {@code other} (a metric label). */
    final class CacheFailure extends RuntimeException {
        private final String kind;

        public CacheFailure(String kind, String message, Throwable cause) {
            super(message, cause, false, false);
            this.kind = kind;
        }

        public String kind() {
            return kind;
        }
    }

    /** The backend {@code config} names: the memory LRU, or a Redis connection started in the background. */
    static EmbeddingCache create(EmbeddingCacheConfig config) {
        if (config.isMemory()) {
            return new MemoryEmbeddingCache(config.maxEntries(), config.maxMemory(), config.ttl(), System::nanoTime);
        }
        return new RedisEmbeddingCache(config);
    }
}
