package dev.oqp.queue.coordination;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.queue.server.QueueProxy;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.sync.RedisCommands;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Redis stopped and restarted under load: the configured degraded mode holds, is shown, and ends by itself. */
class DegradedModeEndToEndTest extends ReplicasTestBase {

    @BeforeEach
    void needsAControllableRedis() {
        org.junit.jupiter.api.Assumptions.assumeTrue(redis.controllable(), "needs a Redis this test can stop");
    }

    @Test
    void localShareHoldsEachReplicaToItsShareWhileRedisIsDownAndSharesAgainWithoutLeaks() throws Exception {
        FakeOllama gpu = Replicas.host().tokens(List.of("a", "b", "c")).tokenDelay(Duration.ofMillis(10)).start();
        hosts.add(gpu);
        List<QueueProxy> proxies = new ArrayList<>();
        for (String id : List.of("A", "B", "C")) {
            proxies.add(replicas.start(Replicas.yaml(redis.url(), id, "", "gpu-1", gpu.baseUri(), 6)));
        }
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> proxies.stream()
                .allMatch(p -> status(p).contains("\"replicas\":[{") && count(status(p), "\"live\":true") == 3));
        AtomicBoolean running = new AtomicBoolean(true);
        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        Thread load = new Thread(() -> {
            Semaphore outstanding = new Semaphore(40);
            for (int i = 0; running.get(); i++) {
                try {
                    outstanding.acquire();
                } catch (InterruptedException e) {
                    return;
                }
                synchronized (answers) {
                    answers.add(replicas.http.sendAsync(Replicas.generate(proxies.get(i % 3), "c", "normal", "r" + i),
                            HttpResponse.BodyHandlers.ofString()).whenComplete((r, e) -> outstanding.release()));
                }
            }
        });
        load.start();
        Thread.sleep(1000);
        redis.kill();
        long down = System.nanoTime();
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> proxies.stream()
                .allMatch(p -> metrics(p).contains("oqp_coordination_degraded 1.0")));
        // Requests that ran at the outage's start end within ~30 ms; from then each replica runs on 6 / 3 = 2.
        long settled = System.nanoTime() + 200_000_000L;
        Thread.sleep(2000);
        long degradedUntil = System.nanoTime();
        redis.restart();
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> proxies.stream()
                .allMatch(p -> metrics(p).contains("oqp_coordination_degraded 0.0")));
        long shared = System.nanoTime();
        Thread.sleep(1000);
        running.set(false);
        load.join();
        List<CompletableFuture<HttpResponse<String>>> all;
        synchronized (answers) {
            all = new ArrayList<>(answers);
        }
        int ok = 0;
        for (CompletableFuture<HttpResponse<String>> a : all) {
            ok += a.join().statusCode() == 200 ? 1 : 0;
        }
        int duringOutage = maxDuring(gpu, settled, degradedUntil);
        int overall = maxDuring(gpu, 0, Long.MAX_VALUE);
        int entering = maxDuring(gpu, down, settled);
        int reentering = maxDuring(gpu, degradedUntil, shared);
        int sharedAgain = maxDuring(gpu, shared, Long.MAX_VALUE);
        System.out.printf("coordination degraded run, host max by phase: shared %d, entering %d, degraded %d,"
                + " re-entering %d, shared again %d%n", maxDuring(gpu, 0, down), entering, duringOutage, reentering,
                sharedAgain);
        System.out.printf("coordination degraded run: %d requests, %d ok; host max %d/6 overall, %d while degraded"
                + " (share 2 x 3 replicas); degraded for %.1fs; shared again %.1fs after Redis restarted; the fake's own"
                + " counter %d%n", all.size(), ok, overall, duringOutage, (degradedUntil - down) / 1e9, (shared - degradedUntil) / 1e9, gpu.maxConcurrency());
        assertThat(ok).isEqualTo(all.size());
        assertThat(duringOutage).isLessThanOrEqualTo(6).isGreaterThanOrEqualTo(2);
        assertThat(maxDuring(gpu, 0, down)).isLessThanOrEqualTo(6);
        // Entering local_share, a replica above its share starts nothing until below it; the others may use
        // theirs meanwhile: at most 6 + 2 x 2 for the length of the requests running at the outage's start.
        assertThat(entering).isLessThanOrEqualTo(10);
        assertThat(reentering).isLessThanOrEqualTo(6);
        assertThat(sharedAgain).isLessThanOrEqualTo(6);
        assertThat(log.list).anyMatch(e -> e.getLevel() == ch.qos.logback.classic.Level.WARN
                && e.getFormattedMessage().startsWith("coordination degraded"));
        assertThat(log.list).anyMatch(e -> e.getFormattedMessage().startsWith("coordination shared again"));
        assertThat(status(proxies.get(0))).contains("\"state\":\"shared\"");
        // No lease leaked: every slot set empties once the requests are done.
        RedisClient client = RedisClient.create(redis.url());
        try {
            RedisCommands<String, String> sync = client.connect().sync();
            // Live leases: a lease left over from the outage that nobody renews expires within one lease (the
            // expired member stays in its set, counting for nothing, until an acquire sweeps it); a leaked lease
            // would be renewed for ever and fail this.
            Awaitility.await().atMost(Duration.ofSeconds(25)).until(() -> ReplicaKilledEndToEndTest.live(sync,
                    "{oqp:coord:}global") == 0 && ReplicaKilledEndToEndTest.live(sync, "{oqp:coord:}host:gpu-1") == 0
                    && ReplicaKilledEndToEndTest.live(sync, "{oqp:coord:}client:c") == 0);
        } finally {
            client.shutdown();
        }
    }

    @Test
    void closedAnswers503WithRetryAfterWhileRedisIsDown() throws Exception {
        FakeOllama gpu = Replicas.host().tokens(List.of("a")).start();
        hosts.add(gpu);
        QueueProxy proxy = replicas.start(Replicas.yaml(redis.url(), "A", "  on_failure: closed\n", "gpu-1",
                gpu.baseUri(), 2));
        assertThat(replicas.http.send(Replicas.generate(proxy, "a", "normal", "before"),
                HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        redis.kill();
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> status(proxy).contains("\"state\":\"degraded\""));
        HttpResponse<String> refused = replicas.http.send(Replicas.generate(proxy, "a", "normal", "during"),
                HttpResponse.BodyHandlers.ofString());
        assertThat(refused.statusCode()).isEqualTo(503);
        assertThat(refused.headers().firstValue("Retry-After")).isPresent();
        redis.restart();
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> status(proxy).contains("\"state\":\"shared\""));
        assertThat(replicas.http.send(Replicas.generate(proxy, "a", "normal", "after"),
                HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        assertThat(gpu.requests().stream().filter(r -> r.path().equals("/api/generate")).count()).isEqualTo(2);
    }

    /** The highest number of requests the host ran at once at any moment in [from, to]. */
    private static int maxDuring(FakeOllama host, long from, long to) {
        int max = 0;
        List<RecordedRequest> all = host.requests().stream().filter(r -> r.path().equals("/api/generate")).toList();
        for (RecordedRequest r : all) {
            long t = r.receivedNanos();
            if (t < from || t > to) {
                continue;
            }
            int n = 0;
            for (RecordedRequest o : all) {
                // Overlapping by more than the fake's end lag (see Replicas.END_LAG_NANOS).
                if (o.receivedNanos() <= t && (!o.finished() || o.completedNanos() - Replicas.END_LAG_NANOS > t)) {
                    n++;
                }
            }
            max = Math.max(max, n);
        }
        return max;
    }

    private static int count(String s, String part) {
        return s.split(java.util.regex.Pattern.quote(part), -1).length - 1;
    }

    private String status(QueueProxy p) {
        return get(p, "/queue/status");
    }

    private String metrics(QueueProxy p) {
        return get(p, "/metrics");
    }

    private String get(QueueProxy p, String path) {
        try {
            return replicas.http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.port() + path))
                    .header("Authorization", "Bearer " + Replicas.KEY_A).build(), HttpResponse.BodyHandlers.ofString())
                    .body();
        } catch (Exception e) {
            return "";
        }
    }
}
