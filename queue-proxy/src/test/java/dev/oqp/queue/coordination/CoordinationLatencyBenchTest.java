package dev.oqp.queue.coordination;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.Target;
import dev.oqp.common.config.Tier;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.queue.cache.RedisFixture;
import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.Grant;
import dev.oqp.queue.scheduler.Rejection;
import dev.oqp.queue.scheduler.Scheduler;
import dev.oqp.queue.scheduler.Ticket;
import dev.oqp.queue.scheduler.Ticks;
import dev.oqp.queue.server.QueueProxy;
import org.junit.jupiter.api.Test;

/**
 * The cost of coordination against a Redis on loopback. (1) The added latency of a coordinated dispatch: from
 * submit to the ticket's dispatch, through the scheduler, the shared slots and the acquire script, against the
 * same path with the in-memory pool (p50, p99). (2) Throughput of whole requests, 32 at a time, through one
 * replica with coordination on and off, in front of a fake host that answers at once. Recorded in
 * docs/benchmarks.md. Loose bounds only: the machine is shared.
 */
class CoordinationLatencyBenchTest {
    private static final int DISPATCHES = 3000;
    private static final int REQUESTS = 3000;

    @Test
    void coordinatedDispatchAddsAboutOneRoundTrip() throws Exception {
        try (RedisFixture redis = RedisFixture.start(); Replicas replicas = new Replicas()) {
            FakeOllama gpu = Replicas.host().tokens(List.of("x")).tokenDelay(Duration.ZERO).start();
            try {
                String on = Replicas.yaml(redis.url(), "A", "", "gpu-1", gpu.baseUri(), 8);
                OqpConfig config = ConfigLoader.parse(on, Target.QUEUE_PROXY, Map.of());
                double[] offDispatch = dispatches(config, null);
                double[] onDispatch = dispatches(config, config);
                System.out.printf("coordination dispatch latency: off p50 %.3f ms p99 %.3f ms; on p50 %.3f ms p99 %.3f"
                        + " ms; added p50 %.3f ms p99 %.3f ms (%d dispatches, Redis on loopback)%n", offDispatch[0],
                        offDispatch[1], onDispatch[0], onDispatch[1], onDispatch[0] - offDispatch[0],
                        onDispatch[1] - offDispatch[1], DISPATCHES);

                String off = Replicas.yaml(redis.url(), "B", "", "gpu-1", gpu.baseUri(), 8)
                        .replaceAll("(?s)coordination:.*?(?=logging:)", "");
                QueueProxy plain = replicas.start(off);
                QueueProxy shared = replicas.start(on);
                double offRate = Math.max(throughput(replicas, plain), throughput(replicas, plain));
                double onRate = Math.max(throughput(replicas, shared), throughput(replicas, shared));
                System.out.printf("coordination throughput, 32 requests at a time, 8 slots: off %.0f/s, on %.0f/s%n",
                        offRate, onRate);
                assertThat(onDispatch[0] - offDispatch[0]).isLessThan(20);
                assertThat(onRate).isGreaterThan(offRate / 10);
            } finally {
                gpu.stop();
            }
        }
    }

    /** p50 and p99 in ms from submit to dispatch, one ticket at a time; {@code coordinated} null = the pool alone. */
    private static double[] dispatches(OqpConfig config, OqpConfig coordinated) throws Exception {
        Fleet fleet = new Fleet(config.ollama().hosts());
        SlotPool pool = new SlotPool(fleet, config.routing(), 0, id -> 0);
        Coordination coordination = null;
        Scheduler<SlotPool.HostLease> scheduler;
        if (coordinated == null) {
            scheduler = new Scheduler<>(config.queue(), Ticks.SYSTEM, pool);
        } else {
            coordination = new Coordination(config.coordination(), config, new QueueMetrics());
            SharedSlots shared = new SharedSlots(pool, coordination, config::queue);
            scheduler = new Scheduler<>(config.queue(), Ticks.SYSTEM, shared);
            shared.attach(scheduler, ForkJoinPool.commonPool());
            coordination.start();
        }
        try {
            double[] ms = new double[DISPATCHES];
            for (int i = -300; i < DISPATCHES; i++) {
                CompletableFuture<Long> dispatched = new CompletableFuture<>();
                long t = System.nanoTime();
                scheduler.submit(new Ticket<>("c", Tier.NORMAL, 0, "m:latest", new Ticket.Listener<>() {
                    @Override
                    public void dispatched(Grant<SlotPool.HostLease> grant, long waitedNanos) {
                        dispatched.complete(System.nanoTime());
                        grant.release();
                    }

                    @Override
                    public void rejected(Rejection rejection) {
                        dispatched.completeExceptionally(new AssertionError(rejection));
                    }

                    @Override
                    public void expired(long waitedNanos) {
                        dispatched.completeExceptionally(new AssertionError("expired"));
                    }

                    @Override
                    public void cancelled(long waitedNanos) {
                        dispatched.completeExceptionally(new AssertionError("cancelled"));
                    }

                    @Override
                    public void flushed(long waitedNanos) {
                        dispatched.completeExceptionally(new AssertionError("flushed"));
                    }
                }));
                long at = dispatched.get(5, TimeUnit.SECONDS);
                if (i >= 0) {
                    ms[i] = (at - t) / 1e6;
                }
            }
            Arrays.sort(ms);
            return new double[] {ms[ms.length / 2], ms[(int) (ms.length * 0.99)]};
        } finally {
            if (coordination != null) {
                coordination.stop();
            }
        }
    }

    /** Requests per second, 32 in flight. */
    private static double throughput(Replicas replicas, QueueProxy proxy) throws Exception {
        Semaphore outstanding = new Semaphore(32);
        List<CompletableFuture<HttpResponse<Void>>> all = new ArrayList<>();
        long t = System.nanoTime();
        for (int i = 0; i < REQUESTS; i++) {
            outstanding.acquire();
            all.add(replicas.http.sendAsync(Replicas.generate(proxy, "c", "normal", "c" + i),
                    HttpResponse.BodyHandlers.discarding()).whenComplete((r, e) -> outstanding.release()));
        }
        for (CompletableFuture<HttpResponse<Void>> f : all) {
            assertThat(f.join().statusCode()).isEqualTo(200);
        }
        return REQUESTS / ((System.nanoTime() - t) / 1e9);
    }
}
