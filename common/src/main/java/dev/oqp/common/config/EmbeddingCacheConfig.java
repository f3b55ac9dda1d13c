package dev.oqp.common.config;

import java.time.Duration;
import java.util.Objects;

/**
 * The embedding cache of the queue proxy ({@code embedding_cache:}).
 *
 * @param enabled       default true
 * @param backend       {@code memory} (default) or a {@code redis://} / {@code rediss://} URL
 *                      ({@code redis://[[user]:password@]host[:port][/db]}, no query), as written after interpolation;
 *                      may contain a password: print it only through {@link ConfigPrinter}
 * @param ttl           entry lifetime; default 24h; always positive
 * @param maxEntries    memory backend: LRU bound; default 50000; always >= 1
 * @param maxEntryBytes a vector (one input item's) larger than this is not cached; default 1 MiB; always positive
 * @param maxMemory     memory backend: bytes of vectors held at most (least recently used evicted first);
 *                      default 256 MiB; always positive (not in DESIGN.md: {@code max_entries} alone would let
 *                      50,000 entries of up to 1 MiB each take 50 GiB)
 * @param timeout       Redis backend: how long a lookup or store may take before it counts as a miss
 *                      (and an error); default 250 ms; always positive (not in DESIGN.md)
 * @param keyPrefix     Redis key prefix; default {@code oqp:embed:}
 * @param partition     {@code shared} (default) or {@code client}: each client sees only its own entries
 * @param required      false (default): a down backend means misses; true: errors, and {@code /ready} fails
 */
public record EmbeddingCacheConfig(boolean enabled, String backend, Duration ttl, int maxEntries, long maxEntryBytes,
        long maxMemory, Duration timeout, String keyPrefix, Partition partition, boolean required) {

    /** {@code shared | client}. */
    public enum Partition { SHARED, CLIENT }

    public static final String MEMORY = "memory";

    /** The defaults of every key. */
    public static final EmbeddingCacheConfig DEFAULT = new EmbeddingCacheConfig(true, MEMORY, Duration.ofHours(24),
            50_000, 1L << 20, 256L << 20, Duration.ofMillis(250), "oqp:embed:", Partition.SHARED, false);

    public EmbeddingCacheConfig {
        Objects.requireNonNull(backend, "backend");
        Checks.positive("ttl", ttl);
        Checks.range("maxEntries", maxEntries, 1, Integer.MAX_VALUE);
        Checks.positive("maxEntryBytes", maxEntryBytes);
        Checks.positive("maxMemory", maxMemory);
        Checks.positive("timeout", timeout);
        Objects.requireNonNull(keyPrefix, "keyPrefix");
        Objects.requireNonNull(partition, "partition");
    }

    /** True for the embedded in-memory backend. */
    public boolean isMemory() {
        return MEMORY.equals(backend);
    }

    /** The backend with any password replaced by {@code ***}. */
    @Override
    public String toString() {
        return "EmbeddingCacheConfig[enabled=" + enabled + ", backend=" + RedisUrls.redact(backend) + ", ttl=" + ttl
                + ", maxEntries=" + maxEntries + ", maxEntryBytes=" + maxEntryBytes + ", maxMemory=" + maxMemory
                + ", timeout=" + timeout + ", keyPrefix=" + keyPrefix
                + ", partition=" + partition + ", required=" + required + "]";
    }
}
