package dev.oqp.queue.server;

import java.util.ArrayList;
import java.util.List;

import dev.oqp.common.config.EmbeddingCacheConfig;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.QueueConfig;
import dev.oqp.common.config.ServiceConfig;
import dev.oqp.common.config.Sizes;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How many bytes of request bodies the queue proxy holds at once, derived from the JVM's max heap so that no
 * {@code queue.max_queued_bytes} can take the heap: the smaller of that setting and
 * {@code (max heap - memory cache's max_memory - 128 MiB) / 3}, in whole MiB, never below a sixteenth of the heap.
 *
 * <p>The value bounds two things, each on its own: the bodies being received ({@link BodyReader.Budget}) and the
 * bodies waiting in the queue (the scheduler's {@code max_queued_bytes}). Hence the 3: a body being received sits
 * in a buffer that grows by doubling, so received bytes can occupy twice their size, and queued bodies once. The
 * 128 MiB is what the rest needs whatever the load: Jetty's buffer pools and per-connection buffers, the
 * collected embedding answers (up to 64 MiB each, {@code CollectingBody}), the proxy's own objects. The floor keeps
 * small bodies flowing when the cache was given the whole heap (a warning says so). Bodies already dispatched
 * upstream are held until sent and count in neither bound: they are bounded by the slots.
 */
final class MemoryBudget {
    private static final Logger LOG = LoggerFactory.getLogger(MemoryBudget.class);
    static final long MIB = 1L << 20;
    /** What the heap needs beside the bodies and the memory cache, whatever the load. */
    static final long HEADROOM = 128 * MIB;
    /** Heap bytes per budget byte: received bodies twice (buffer growth), queued bodies once. */
    static final int BODY_COPIES = 3;
    /** The budget never falls below this fraction of the heap, so that small bodies are still taken. */
    static final int FLOOR_DIVISOR = 16;

    /** The JVM's max heap; {@link Long#MAX_VALUE} when it has none ({@link Runtime#maxMemory()}). */
    private final long maxHeap;

    MemoryBudget(long maxHeap) {
        this.maxHeap = maxHeap;
    }

    /** The budget of the heap this JVM runs with. */
    static MemoryBudget ofThisJvm() {
        return new MemoryBudget(Runtime.getRuntime().maxMemory());
    }

    /** The bytes of request bodies held at once, read as well as queued (each bound on its own). */
    long bodies(OqpConfig config) {
        return Math.min(config.queue().maxQueuedBytes(), heapShare(config));
    }

    /** {@code config}'s queue with {@code max_queued_bytes} cut to {@link #bodies}: what the scheduler enforces. */
    QueueConfig queue(OqpConfig config) {
        QueueConfig q = config.queue();
        long bodies = bodies(config);
        return bodies == q.maxQueuedBytes() ? q
                : new QueueConfig(q.high(), q.normal(), q.low(), q.overflowStatusCode(), q.aging(), bodies, q.paused(),
                        q.earlyHeadersAfter(), q.heartbeat());
    }

    /** What the heap leaves for bodies, whatever {@code max_queued_bytes} says; unbounded without a max heap. */
    private long heapShare(OqpConfig config) {
        if (maxHeap == Long.MAX_VALUE) {
            return Long.MAX_VALUE;
        }
        long share = (maxHeap - cacheMemory(config) - HEADROOM) / BODY_COPIES;
        // Whole MiB: the log lines read as sizes, and a fraction of a MiB decides nothing.
        return Math.max(maxHeap / FLOOR_DIVISOR, share) / MIB * MIB;
    }

    /** The memory cache's bound; a Redis cache holds nothing in this heap. */
    private static long cacheMemory(OqpConfig config) {
        EmbeddingCacheConfig cache = config.embeddingCache();
        return cache.enabled() && cache.isMemory() ? cache.maxMemory() : 0;
    }

    /** The start-up line: the heap cap and the effective body budget. */
    String summary(OqpConfig config) {
        if (maxHeap == Long.MAX_VALUE) {
            return "memory: no max heap; request bodies held at once: " + size(bodies(config))
                    + " (queue.max_queued_bytes)";
        }
        return "memory: max heap " + size(maxHeap) + "; request bodies held at once: " + size(bodies(config))
                + " (the smaller of queue.max_queued_bytes, " + size(config.queue().maxQueuedBytes())
                + ", and (max heap - memory cache " + size(cacheMemory(config)) + " - " + size(HEADROOM) + ") / "
                + BODY_COPIES + ")";
    }

    /** What the heap cannot hold: each setting larger than it leaves room for, with what happens instead. */
    List<String> warnings(OqpConfig config) {
        List<String> out = new ArrayList<>();
        if (maxHeap == Long.MAX_VALUE) {
            return out;
        }
        long bodies = bodies(config);
        String heap = "a max heap of " + size(maxHeap);
        String raise = "raise the heap (-Xmx, or -XX:MaxRAMPercentage in a container; see docs/operations.md,"
                + " Memory sizing)";
        long cache = cacheMemory(config);
        if (maxHeap - cache - HEADROOM < BODY_COPIES * (maxHeap / FLOOR_DIVISOR)) {
            out.add(heap + " cannot hold " + (cache > 0 ? "embedding_cache.max_memory (" + size(cache) + ") and " : "")
                    + size(HEADROOM) + " of working memory beside request bodies: bodies are held up to "
                    + size(bodies) + " at once; " + (cache > 0 ? "lower max_memory or " : "") + raise);
        }
        if (config.queue().maxQueuedBytes() > bodies) {
            out.add("queue.max_queued_bytes " + size(config.queue().maxQueuedBytes()) + " is more than " + heap
                    + " holds: request bodies are held up to " + size(bodies) + " at once (more are answered 503"
                    + " with Retry-After); " + raise);
        }
        List<String> ports = new ArrayList<>();
        if (config.proxy().maxBody() > bodies) {
            ports.add("proxy.max_body " + size(config.proxy().maxBody()));
        }
        for (ServiceConfig service : config.services()) {
            if (service.maxBody() > bodies) {
                ports.add("services[" + service.name() + "].max_body " + size(service.maxBody()));
            }
        }
        if (!ports.isEmpty()) {
            out.add(String.join(", ", ports) + (ports.size() == 1 ? " is" : " are") + " more than " + heap
                    + " holds: a body larger than " + size(bodies) + " is answered 503; " + raise);
        }
        return out;
    }

    /** Logs {@link #summary} at INFO and each of {@link #warnings} at WARN: once, at start. */
    void log(OqpConfig config) {
        LOG.info(summary(config));
        warnings(config).forEach(LOG::warn);
    }

    private static String size(long bytes) {
        return bytes >= MIB ? Sizes.format(bytes / MIB * MIB) : Sizes.format(bytes);
    }
}
