package dev.oqp.queue.cache;

import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;

/**
 * The embedded backend: a least-recently-used map bounded by entry count and by bytes held, each entry
 * living {@code ttl}. One lock; every operation is a few map steps, so a hit answers in microseconds.
 */
final class MemoryEmbeddingCache implements EmbeddingCache {
    /** What an entry costs beyond its value: key string, map node, entry object (an estimate). */
    static final int ENTRY_OVERHEAD = 200;

    private final int maxEntries;
    private final long maxBytes;
    private final long ttlNanos;
    private final LongSupplier nanoClock;
    // Guarded by this.
    private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>(1024, 0.75f, true);
    private long bytes;

    private record Entry(byte[] value, long expiresAt) {
    }

    MemoryEmbeddingCache(int maxEntries, long maxBytes, Duration ttl, LongSupplier nanoClock) {
        this.maxEntries = maxEntries;
        this.maxBytes = maxBytes;
        this.ttlNanos = ttl.toNanos();
        this.nanoClock = nanoClock;
    }

    @Override
    public CompletableFuture<byte[][]> getAll(List<String> keys) {
        byte[][] values = new byte[keys.size()][];
        long now = nanoClock.getAsLong();
        synchronized (this) {
            for (int i = 0; i < values.length; i++) {
                String key = keys.get(i);
                Entry entry = entries.get(key);
                if (entry == null) {
                    continue;
                }
                if (now - entry.expiresAt >= 0) {
                    remove(key);
                } else {
                    values[i] = entry.value;
                }
            }
        }
        return CompletableFuture.completedFuture(values);
    }

    @Override
    public CompletableFuture<Void> putAll(Map<String, byte[]> toStore) {
        long expiresAt = nanoClock.getAsLong() + ttlNanos;
        synchronized (this) {
            for (Map.Entry<String, byte[]> e : toStore.entrySet()) {
                remove(e.getKey());
                long cost = cost(e.getValue());
                if (cost > maxBytes) {
                    continue;
                }
                entries.put(e.getKey(), new Entry(e.getValue(), expiresAt));
                bytes += cost;
            }
            Iterator<Map.Entry<String, Entry>> eldest = entries.entrySet().iterator();
            while ((entries.size() > maxEntries || bytes > maxBytes) && eldest.hasNext()) {
                bytes -= cost(eldest.next().getValue().value);
                eldest.remove();
            }
        }
        return CompletableFuture.completedFuture(null);
    }

    private void remove(String key) {
        Entry old = entries.remove(key);
        if (old != null) {
            bytes -= cost(old.value);
        }
    }

    private static long cost(byte[] value) {
        return value.length + (long) ENTRY_OVERHEAD;
    }

    /** Entries held (expired ones included until they are met or evicted). */
    synchronized int size() {
        return entries.size();
    }

    @Override
    public long entries() {
        return size();
    }

    /** Bytes held, by the estimate of {@link #ENTRY_OVERHEAD}. */
    @Override
    public synchronized long bytes() {
        return bytes;
    }

    @Override
    public boolean available() {
        return true;
    }

    @Override
    public String describe() {
        return "memory";
    }

    @Override
    public synchronized void close() {
        entries.clear();
        bytes = 0;
    }
}
