package dev.oqp.queue.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

/** The embedded backend: TTL on an injected clock, LRU eviction by entries and by bytes. */
class MemoryEmbeddingCacheTest {
    private final AtomicLong now = new AtomicLong(1_000);

    private MemoryEmbeddingCache cache(int maxEntries, long maxBytes) {
        return new MemoryEmbeddingCache(maxEntries, maxBytes, Duration.ofSeconds(10), now::get);
    }

    private static byte[][] get(MemoryEmbeddingCache cache, String... keys) {
        return cache.getAll(List.of(keys)).join();
    }

    @Test
    void anEntryLivesItsTtlAndNoLonger() {
        MemoryEmbeddingCache cache = cache(10, 1 << 20);
        cache.putAll(Map.of("k", new byte[] {1}));
        now.addAndGet(Duration.ofSeconds(10).toNanos() - 1);
        assertThat(get(cache, "k")[0]).containsExactly(1);
        now.addAndGet(1);
        assertThat(get(cache, "k")[0]).isNull();
        assertThat(cache.size()).isZero();
        assertThat(cache.bytes()).isZero();
    }

    @Test
    void theLeastRecentlyUsedEntryGoesFirst() {
        MemoryEmbeddingCache cache = cache(2, 1 << 20);
        cache.putAll(Map.of("a", new byte[] {1}));
        cache.putAll(Map.of("b", new byte[] {2}));
        get(cache, "a");
        cache.putAll(Map.of("c", new byte[] {3}));

        byte[][] values = get(cache, "a", "b", "c");
        assertThat(values[0]).isNotNull();
        assertThat(values[1]).as("b was used least recently").isNull();
        assertThat(values[2]).isNotNull();
    }

    @Test
    void bytesHeldStayUnderMaxMemory() {
        long perEntry = 1000 + MemoryEmbeddingCache.ENTRY_OVERHEAD;
        MemoryEmbeddingCache cache = cache(1000, 3 * perEntry);
        for (int i = 0; i < 10; i++) {
            cache.putAll(Map.of("k" + i, new byte[1000]));
        }
        assertThat(cache.size()).isEqualTo(3);
        assertThat(cache.bytes()).isEqualTo(3 * perEntry);
        assertThat(get(cache, "k9", "k0")[1]).isNull();
        cache.putAll(Map.of("huge", new byte[10_000]));
        assertThat(get(cache, "huge")[0]).as("larger than the whole budget: not kept").isNull();
        assertThat(cache.bytes()).isLessThanOrEqualTo(3 * perEntry);
    }

    @Test
    void aReplacedEntryIsCountedOnce() {
        MemoryEmbeddingCache cache = cache(10, 1 << 20);
        cache.putAll(Map.of("k", new byte[100]));
        cache.putAll(Map.of("k", new byte[50]));
        assertThat(cache.size()).isEqualTo(1);
        assertThat(cache.bytes()).isEqualTo(50 + MemoryEmbeddingCache.ENTRY_OVERHEAD);
    }
}
