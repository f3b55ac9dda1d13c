package dev.oqp.queue.coordination;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.queue.server.QueueProxy;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.sync.RedisCommands;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** Three replicas in this JVM sharing one Redis act as one proxy: caps and priority hold across them. */
class SharedSlotsEndToEndTest extends ReplicasTestBase {

    @Test
    void twoThousandMixedRequestsOverThreeReplicasNeverExceedAHostsSlotsOrAClientsCap() throws Exception {
        FakeOllama gpu1 = host(Replicas.host().tokens(List.of("a", "b", "c")).tokenDelay(Duration.ofMillis(5)));
        FakeOllama gpu2 = host(Replicas.host().tokens(List.of("a", "b", "c")).tokenDelay(Duration.ofMillis(5)));
        List<QueueProxy> proxies = new ArrayList<>();
        for (String id : List.of("A", "B", "C")) {
            // Shared exactness is what this measures: a 300 ms command timeout on a loaded 2-core machine can
            // flip a replica to local_share (at least one slot per host each: 3 on a 2-slot host, as documented).
            proxies.add(replicas.start(Replicas.yaml(redis.url(), id, "", "gpu-1", gpu1.baseUri(), 3, "gpu-2",
                    gpu2.baseUri(), 2).replace("timeout: 300ms", "timeout: 2s")));
        }
        String[] clients = {"a", "b", "c", "c"};
        String[] tiers = {"high", "normal", "low"};
        Semaphore outstanding = new Semaphore(90);
        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        long started = System.nanoTime();
        for (int i = 0; i < 2000; i++) {
            outstanding.acquire();
            answers.add(replicas.http.sendAsync(Replicas.generate(proxies.get(i % 3), clients[i % 4], tiers[i % 3],
                    "r" + i), HttpResponse.BodyHandlers.ofString()).whenComplete((r, e) -> outstanding.release()));
        }
        int ok = 0;
        for (CompletableFuture<HttpResponse<String>> a : answers) {
            ok += a.join().statusCode() == 200 ? 1 : 0;
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        Map<String, Integer> perClient = Replicas.maxPerClient(hosts);
        int max1 = Replicas.maxConcurrency(gpu1);
        int max2 = Replicas.maxConcurrency(gpu2);
        System.out.printf("coordination overshoot run: %d requests over 3 replicas in %.1fs; max concurrency seen"
                + " gpu-1 %d/3, gpu-2 %d/2, per client %s (caps a=2, b=3), overlaps over %d ms; the fakes' own"
                + " counters (which count an exchange until their write callback ran): gpu-1 %d, gpu-2 %d, above the"
                + " cap for at most %d / %d us%n", answers.size(), seconds, max1, max2, perClient,
                Replicas.END_LAG_NANOS / 1_000_000, gpu1.maxConcurrency(), gpu2.maxConcurrency(),
                Replicas.longestAboveMicros(gpu1, 3), Replicas.longestAboveMicros(gpu2, 2));
        assertThat(ok).isEqualTo(2000);
        assertThat(max1).isLessThanOrEqualTo(3).isGreaterThanOrEqualTo(2);
        assertThat(max2).isLessThanOrEqualTo(2);
        assertThat(perClient.get("a")).isLessThanOrEqualTo(2);
        assertThat(perClient.get("b")).isLessThanOrEqualTo(3);
        assertSlotSetsEmpty();
    }

    @Test
    void aHighRequestAtReplicaCIsServedBeforeLowOnesWaitingAtAAndB() throws Exception {
        FakeOllama gpu = host(Replicas.host().tokens(List.of("x")).firstByteDelay(Duration.ofMillis(600)));
        QueueProxy a = replicas.start(Replicas.yaml(redis.url(), "A", "", "gpu-1", gpu.baseUri(), 1));
        QueueProxy b = replicas.start(Replicas.yaml(redis.url(), "B", "", "gpu-1", gpu.baseUri(), 1));
        QueueProxy c = replicas.start(Replicas.yaml(redis.url(), "C", "", "gpu-1", gpu.baseUri(), 1));
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        all.add(send(a, "c", "normal", "busy"));
        gpu.awaitRequests(1, Duration.ofSeconds(5));
        all.add(send(a, "c", "low", "low-at-a"));
        all.add(send(b, "c", "low", "low-at-b"));
        Thread.sleep(300);
        all.add(send(c, "c", "high", "high-at-c"));
        all.forEach(f -> assertThat(f.join().statusCode()).isEqualTo(200));
        List<String> order = new ArrayList<>();
        for (RecordedRequest r : gpu.requests()) {
            if (r.path().equals("/api/generate")) {
                order.add(r.bodyJson().get("prompt").asText().substring(2));
            }
        }
        System.out.println("coordination priority order at the host: " + order);
        assertThat(order.get(0)).isEqualTo("busy");
        assertThat(order.get(1)).isEqualTo("high-at-c");
        assertThat(Replicas.maxConcurrency(gpu)).isEqualTo(1);
        assertSlotSetsEmpty();
    }

    @Test
    void aClientsBacklogOverThreeReplicasInterleavesWithAnotherClientsRequests() throws Exception {
        FakeOllama gpu = host(Replicas.host().tokens(List.of("x")).firstByteDelay(Duration.ofMillis(300)));
        List<QueueProxy> proxies = new ArrayList<>();
        for (String id : List.of("A", "B", "C")) {
            proxies.add(replicas.start(Replicas.yaml(redis.url(), id, "", "gpu-1", gpu.baseUri(), 1)));
        }
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        all.add(send(proxies.get(0), "c", "low", "busy"));
        gpu.awaitRequests(1, Duration.ofSeconds(5));
        // Client c has two requests waiting at each replica (one of each registered in the shared index)...
        for (int i = 0; i < 6; i++) {
            all.add(send(proxies.get(i % 3), "c", "low", "c" + i));
        }
        awaitWaiting(3);
        // ... when client b's two arrive at C: round-robin between the clients, not c's backlog first.
        all.add(send(proxies.get(2), "b", "low", "b0"));
        all.add(send(proxies.get(2), "b", "low", "b1"));
        all.forEach(f -> assertThat(f.join().statusCode()).isEqualTo(200));
        List<String> order = new ArrayList<>();
        for (RecordedRequest r : gpu.requests()) {
            if (r.path().equals("/api/generate")) {
                order.add(r.bodyJson().get("prompt").asText().substring(2));
            }
        }
        System.out.println("coordination fair-share order at the host: " + order);
        assertThat(order).hasSize(9);
        assertThat(order.get(0)).isEqualTo("busy");
        // By arrival alone b's would be 4th and 8th after the busy one (c's three registered waiters, then b's,
        // then c's next three, each registered once the one before it was granted).
        assertThat(order.subList(1, 5)).contains("b0", "b1");
        assertSlotSetsEmpty();
    }

    private void awaitWaiting(int n) {
        RedisClient client = RedisClient.create(redis.url());
        try {
            RedisCommands<String, String> sync = client.connect().sync();
            Awaitility.await().atMost(Duration.ofSeconds(5))
                    .until(() -> sync.zcard("{oqp:coord:}waiting") >= n);
        } finally {
            client.shutdown();
        }
    }

    @Test
    void queueStatusListsTheLiveReplicasAndFlagsADifferingConfig() throws Exception {
        FakeOllama gpu = host(Replicas.host());
        QueueProxy a = replicas.start(Replicas.yaml(redis.url(), "A", "", "gpu-1", gpu.baseUri(), 2));
        QueueProxy b = replicas.start(Replicas.yaml(redis.url(), "B", "", "gpu-1", gpu.baseUri(), 2));
        QueueProxy c = replicas.start(Replicas.yaml(redis.url(), "C", "", "gpu-1", gpu.baseUri(), 3));
        Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            com.fasterxml.jackson.databind.JsonNode status = new com.fasterxml.jackson.databind.ObjectMapper()
                    .readTree(replicas.http.send(java.net.http.HttpRequest.newBuilder(
                            java.net.URI.create("http://127.0.0.1:" + a.port() + "/queue/status"))
                            .header("Authorization", "Bearer " + Replicas.KEY_A).build(),
                            HttpResponse.BodyHandlers.ofString()).body());
            assertThat(status.at("/coordination/state").asText()).isEqualTo("shared");
            assertThat(status.at("/coordination/replica_id").asText()).isEqualTo("A");
            Map<String, Boolean> differs = new java.util.TreeMap<>();
            status.get("replicas").forEach(r -> differs.put(r.get("id").asText(), r.get("digest_differs").asBoolean()));
            assertThat(differs).isEqualTo(Map.of("A", false, "B", false, "C", true));
        });
        assertThat(b.port()).isNotEqualTo(c.port());
    }

    private java.util.concurrent.CompletableFuture<HttpResponse<String>> send(QueueProxy p, String client, String tier,
                                                                              String prompt) {
        return replicas.http.sendAsync(Replicas.generate(p, client, tier, prompt), HttpResponse.BodyHandlers.ofString());
    }

    private void assertSlotSetsEmpty() {
        RedisClient client = RedisClient.create(redis.url());
        try {
            RedisCommands<String, String> sync = client.connect().sync();
            Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                for (String key : sync.keys("{oqp:coord:}*")) {
                    if (key.contains("host:") || key.contains("client:") || key.endsWith("global")
                            || key.endsWith("waiting")) {
                        assertThat(sync.zcard(key)).as(key).isZero();
                    }
                }
            });
        } finally {
            client.shutdown();
        }
    }
}
