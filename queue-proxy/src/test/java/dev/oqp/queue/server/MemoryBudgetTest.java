package dev.oqp.queue.server;

import static dev.oqp.queue.server.MemoryBudget.MIB;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;

import dev.oqp.common.config.ConfigException;
import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.QueueConfig;
import dev.oqp.common.config.Target;
import org.junit.jupiter.api.Test;

/** The body budget derived from the max heap, and what is said about a configuration the heap cannot hold. */
class MemoryBudgetTest {
    private static final long GIB = 1L << 30;
    /** What the launchers (images, systemd unit, README) give the queue proxy: see docs/operations.md. */
    private static final long LAUNCHERS_HEAP = 2 * GIB;

    private static OqpConfig config(String yaml) {
        try {
            return ConfigLoader.parse(yaml + "ollama:\n  hosts:\n    - name: gpu-1\n      url: http://127.0.0.1:11434\n",
                    Target.QUEUE_PROXY, Map.of());
        } catch (ConfigException e) {
            throw new AssertionError(e.getMessage(), e);
        }
    }

    private static final OqpConfig DEFAULTS = config("");

    @Test
    void aHeapThatHoldsMaxQueuedBytesLeavesItAsConfigured() {
        MemoryBudget memory = new MemoryBudget(4 * GIB);

        assertThat(memory.bodies(DEFAULTS)).isEqualTo(QueueConfig.DEFAULT_MAX_QUEUED_BYTES);
        assertThat(memory.queue(DEFAULTS)).isSameAs(DEFAULTS.queue());
        assertThat(memory.warnings(DEFAULTS)).isEmpty();
    }

    @Test
    void theLaunchersDefaultHeapHoldsTheDefaultsWithoutAWarning() {
        MemoryBudget memory = new MemoryBudget(LAUNCHERS_HEAP);

        assertThat(memory.bodies(DEFAULTS)).isEqualTo(QueueConfig.DEFAULT_MAX_QUEUED_BYTES);
        assertThat(memory.warnings(DEFAULTS)).isEmpty();
    }

    @Test
    void aSmallerHeapCapsTheBodiesAtAThirdOfWhatTheCacheAndTheHeadroomLeave() {
        MemoryBudget memory = new MemoryBudget(GIB);

        // (1024 - 256 (memory cache) - 128) / 3 = 213.3 MiB, in whole MiB
        assertThat(memory.bodies(DEFAULTS)).isEqualTo(213 * MIB);
        QueueConfig queue = memory.queue(DEFAULTS);
        assertThat(queue.maxQueuedBytes()).isEqualTo(213 * MIB);
        assertThat(queue).usingRecursiveComparison().ignoringFields("maxQueuedBytes").isEqualTo(DEFAULTS.queue());
        assertThat(memory.summary(DEFAULTS)).contains("max heap 1GiB", "request bodies held at once: 213MiB",
                "queue.max_queued_bytes, 512MiB");
        assertThat(memory.warnings(DEFAULTS)).singleElement().asString()
                .contains("queue.max_queued_bytes 512MiB", "a max heap of 1GiB", "held up to 213MiB", "503");
    }

    @Test
    void theSizingRuleOfTheDocsIsExactlyWhatHoldsMaxQueuedBytes() {
        // heap >= 3 x max_queued_bytes + embedding_cache.max_memory + 128 MiB
        OqpConfig config = config("queue:\n  max_queued_bytes: 300MiB\nembedding_cache:\n  max_memory: 100MiB\n");
        long rule = 3 * 300 * MIB + 100 * MIB + 128 * MIB;

        assertThat(new MemoryBudget(rule).bodies(config)).isEqualTo(300 * MIB);
        assertThat(new MemoryBudget(rule).warnings(config)).isEmpty();
        assertThat(new MemoryBudget(rule - 3 * MIB).bodies(config)).isEqualTo(299 * MIB);
    }

    @Test
    void onlyAnEnabledMemoryCacheTakesItsShareOfTheHeap() {
        OqpConfig redis = config("embedding_cache:\n  backend: redis://127.0.0.1:6379\n");
        OqpConfig disabled = config("embedding_cache:\n  enabled: false\n");

        // (1024 - 128) / 3 = 298.7 MiB
        assertThat(new MemoryBudget(GIB).bodies(redis)).isEqualTo(298 * MIB);
        assertThat(new MemoryBudget(GIB).bodies(disabled)).isEqualTo(298 * MIB);
    }

    @Test
    void aCacheThatTakesTheHeapLeavesTheFloorAndIsNamed() {
        MemoryBudget memory = new MemoryBudget(256 * MIB);

        assertThat(memory.bodies(DEFAULTS)).as("a sixteenth of the heap").isEqualTo(16 * MIB);
        assertThat(memory.warnings(DEFAULTS))
                .anySatisfy(w -> assertThat(w).contains("cannot hold embedding_cache.max_memory (256MiB)",
                        "lower max_memory"))
                .anySatisfy(w -> assertThat(w).contains("queue.max_queued_bytes 512MiB"))
                .anySatisfy(w -> assertThat(w).contains("proxy.max_body 50MiB is more than"));
    }

    @Test
    void aMaxBodyLargerThanTheBudgetIsNamedForEachPort() {
        OqpConfig config = config("""
                proxy:
                  max_body: 300MiB
                embedding_cache:
                  enabled: false
                services:
                  - name: small
                    listen: 11440
                    client: small
                    max_body: 1MiB
                  - name: big
                    listen: 11441
                    client: big
                    max_body: 100MiB
                auth:
                  keys:
                    - client_id: small
                      key: small-key-0123456789abcdef
                    - client_id: big
                      key: big-key-0123456789abcdef
                """);

        // (256 - 128) / 3 = 42.7 MiB
        assertThat(new MemoryBudget(256 * MIB).warnings(config))
                .anySatisfy(w -> assertThat(w).contains("proxy.max_body 300MiB, services[big].max_body 100MiB are",
                        "larger than 42MiB is answered 503").doesNotContain("small"));
    }

    @Test
    void withoutAMaxHeapTheSettingStandsAndNothingIsSaid() {
        MemoryBudget memory = new MemoryBudget(Long.MAX_VALUE);

        assertThat(memory.bodies(DEFAULTS)).isEqualTo(QueueConfig.DEFAULT_MAX_QUEUED_BYTES);
        assertThat(memory.warnings(DEFAULTS)).isEmpty();
        assertThat(memory.summary(DEFAULTS)).contains("no max heap");
    }

    @Test
    void thisJvmsBudgetReadsItsMaxHeap() {
        long expected = new MemoryBudget(Runtime.getRuntime().maxMemory()).bodies(DEFAULTS);

        assertThat(MemoryBudget.ofThisJvm().bodies(DEFAULTS)).isEqualTo(expected)
                .isLessThanOrEqualTo(Runtime.getRuntime().maxMemory() / 3);
    }
}
