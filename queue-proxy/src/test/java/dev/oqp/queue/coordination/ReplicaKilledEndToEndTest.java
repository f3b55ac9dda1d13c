package dev.oqp.queue.coordination;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.queue.QueueProxyMain;
import dev.oqp.queue.cache.RedisFixture;
import dev.oqp.queue.server.QueueProxy;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.sync.RedisCommands;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kill -9} of a replica process in the middle of its streams: its slots are free again within one lease,
 * the other replicas' streams run on untouched, and no lease is left in Redis.
 */
class ReplicaKilledEndToEndTest {
    private static final long LEASE_MILLIS = 3000;

    @TempDir
    Path dir;
    private RedisFixture redis;
    private FakeOllama gpu;
    private Process victim;
    private final Replicas replicas = new Replicas();

    @AfterEach
    void stop() {
        if (victim != null) {
            victim.destroyForcibly();
        }
        replicas.close();
        if (gpu != null) {
            gpu.stop();
        }
        if (redis != null) {
            redis.close();
        }
    }

    @Test
    void aKilledReplicasSlotsAreFreeWithinOneLeaseAndTheOthersStreamsAreUntouched() throws Exception {
        redis = RedisFixture.start();
        gpu = Replicas.host().tokens(Collections.nCopies(50, "t ")).tokenDelay(Duration.ofMillis(100)).start();
        String lease = "  lease: 3s\n";
        QueueProxy a = replicas.start(Replicas.yaml(redis.url(), "A", lease, "gpu-1", gpu.baseUri(), 4));
        QueueProxy b = replicas.start(Replicas.yaml(redis.url(), "B", lease, "gpu-1", gpu.baseUri(), 4));
        String victimYaml = Replicas.yaml(redis.url(), "V", lease, "gpu-1", gpu.baseUri(), 4);
        int victimPort = Integer.parseInt(victimYaml.replaceAll("(?s).*port: (\\d+).*", "$1"));
        Path file = dir.resolve("v.yaml");
        Files.writeString(file, victimYaml);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        victim = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                QueueProxyMain.class.getName(), "--config", file.toString()))
                .redirectErrorStream(true).redirectOutput(dir.resolve("v.log").toFile()).start();
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> health(victimPort));

        // Two streams through the victim, two through A: every slot of gpu-1 is taken.
        List<CompletableFuture<HttpResponse<String>>> victimStreams = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            victimStreams.add(replicas.http.sendAsync(stream(URI.create("http://127.0.0.1:" + victimPort), "v" + i),
                    HttpResponse.BodyHandlers.ofString()));
        }
        List<CompletableFuture<HttpResponse<String>>> aStreams = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            aStreams.add(replicas.http.sendAsync(stream(URI.create("http://127.0.0.1:" + a.port()), "a" + i),
                    HttpResponse.BodyHandlers.ofString()));
        }
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> gpu.inFlight() == 4);
        // B's request waits for a slot.
        CompletableFuture<HttpResponse<String>> waiting = replicas.http.sendAsync(
                stream(URI.create("http://127.0.0.1:" + b.port()), "b0"), HttpResponse.BodyHandlers.ofString());
        Thread.sleep(500);
        assertThat(requests("b0")).isEmpty();

        victim.destroyForcibly().waitFor();
        long killed = System.nanoTime();
        Awaitility.await().atMost(Duration.ofMillis(LEASE_MILLIS + 2000)).until(() -> !requests("b0").isEmpty());
        double recovery = (requests("b0").get(0).receivedNanos() - killed) / 1e9;
        System.out.printf("coordination kill -9: the victim's slots were taken again %.2fs after the kill (lease %ds)%n",
                recovery, LEASE_MILLIS / 1000);
        assertThat(recovery).isLessThanOrEqualTo(LEASE_MILLIS / 1000.0 + 0.5);

        for (CompletableFuture<HttpResponse<String>> s : aStreams) {
            HttpResponse<String> r = s.join();
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body().lines().count()).isEqualTo(51);
            assertThat(r.body()).contains("\"done\":true").doesNotContain("\"error\"");
        }
        assertThat(waiting.join().statusCode()).isEqualTo(200);
        assertThat(Replicas.maxConcurrency(gpu)).isLessThanOrEqualTo(4);
        RedisClient client = RedisClient.create(redis.url());
        try {
            RedisCommands<String, String> sync = client.connect().sync();
            // Live leases only: the killed replica's two leases may expire a few ms apart, and the one that
            // expired after the last acquire stays in the set (counting for nothing) until the next one sweeps it.
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> live(sync, "{oqp:coord:}global") == 0
                    && live(sync, "{oqp:coord:}host:gpu-1") == 0 && live(sync, "{oqp:coord:}client:c") == 0
                    && sync.zcard("{oqp:coord:}waiting") == 0);
        } finally {
            client.shutdown();
        }
    }

    /** Members of a lease set whose expiry (Redis server ms) is still ahead. */
    /** Members of {@code key} whose expiry (by the server's clock) has not passed. */
    static long live(RedisCommands<String, String> sync, String key) {
        List<String> time = sync.time();
        long now = Long.parseLong(time.get(0)) * 1000 + Long.parseLong(time.get(1)) / 1000;
        return sync.zcount(key, io.lettuce.core.Range.create(now, Double.POSITIVE_INFINITY));
    }

    private List<RecordedRequest> requests(String prompt) {
        return gpu.requests().stream().filter(r -> r.path().equals("/api/generate")
                && r.bodyJson().get("prompt").asText().equals("c " + prompt)).toList();
    }

    private static HttpRequest stream(URI base, String prompt) {
        return HttpRequest.newBuilder(base.resolve("/api/generate"))
                .header("Authorization", "Bearer " + Replicas.KEY_C).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m\",\"prompt\":\"c " + prompt
                        + "\",\"stream\":true}"))
                .timeout(Duration.ofSeconds(60)).build();
    }

    private boolean health(int port) {
        try {
            return replicas.http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode() == 200;
        } catch (Exception e) {
            return false;
        }
    }
}
