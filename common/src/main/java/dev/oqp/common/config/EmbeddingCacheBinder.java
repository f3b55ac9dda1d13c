package dev.oqp.common.config;

import static dev.oqp.common.config.Values.or;

import java.time.Duration;
import java.util.Locale;

/** Binds {@code embedding_cache:}. A Redis URL may hold a password: problems show it redacted. */
final class EmbeddingCacheBinder {

    /** The keys of {@code embedding_cache:}. */
    enum Key { ENABLED, BACKEND, TTL, MAX_ENTRIES, MAX_ENTRY_BYTES, MAX_MEMORY, TIMEOUT, KEY_PREFIX, PARTITION, REQUIRED }

    private EmbeddingCacheBinder() {
    }

    static EmbeddingCacheConfig bind(Node node, Binding b) {
        EmbeddingCacheConfig d = EmbeddingCacheConfig.DEFAULT;
        Node.Mapping<Key> m = node.mapping(Key.class);
        boolean enabled = or(m.get(Key.ENABLED).bool(), d.enabled());
        String backend = backend(m.get(Key.BACKEND), d.backend());
        Duration ttl = or(m.get(Key.TTL).duration(false), d.ttl());
        int maxEntries = or(m.get(Key.MAX_ENTRIES).integer(1, Integer.MAX_VALUE), d.maxEntries());
        long maxEntryBytes = or(m.get(Key.MAX_ENTRY_BYTES).size(), d.maxEntryBytes());
        long maxMemory = or(m.get(Key.MAX_MEMORY).size(), d.maxMemory());
        Duration timeout = or(m.get(Key.TIMEOUT).duration(false), d.timeout());
        String keyPrefix = or(m.get(Key.KEY_PREFIX).string(), d.keyPrefix());
        EmbeddingCacheConfig.Partition partition = or(m.get(Key.PARTITION).choice(EmbeddingCacheConfig.Partition.class),
                d.partition());
        boolean required = or(m.get(Key.REQUIRED).bool(), d.required());
        return b.build(node.path, () -> new EmbeddingCacheConfig(enabled, backend, ttl, maxEntries, maxEntryBytes,
                maxMemory, timeout, keyPrefix, partition, required));
    }

    /** {@code memory} or a valid Redis URL as written (trimmed); {@code fallback} when absent or invalid. */
    private static String backend(Node node, String fallback) {
        String text = node.string();
        if (text == null) {
            return fallback;
        }
        String lower = text.trim().toLowerCase(Locale.ROOT);
        if (lower.equals(EmbeddingCacheConfig.MEMORY)) {
            return EmbeddingCacheConfig.MEMORY;
        }
        String url = Values.redisUrl(node, text, "memory, or a redis:// or rediss:// URL");
        return url != null ? url : fallback;
    }
}
