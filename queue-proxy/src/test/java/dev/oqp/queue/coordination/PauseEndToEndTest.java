package dev.oqp.queue.coordination;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.Target;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.queue.server.QueueProxy;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** A paused tier's waiters leave the shared order (they hold no host back) and ask again once resumed. */
class PauseEndToEndTest extends ReplicasTestBase {

    @Test
    void pausingATierTakesItsWaitersOutOfTheSharedIndexUntilResumed() throws Exception {
        FakeOllama gpu = Replicas.host().tokens(List.of("a")).firstByteDelay(Duration.ofMillis(3000)).start();
        hosts.add(gpu);
        QueueProxy a = replicas.start(Replicas.yaml(redis.url(), "A", "", "gpu-1", gpu.baseUri(), 1));
        CompletableFuture<HttpResponse<String>> running = send(a, "normal", "running");
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> gpu.inFlight() == 1);
        CompletableFuture<HttpResponse<String>> paused = send(a, "high", "paused");
        Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> redis.command("ZCARD {oqp:coord:}waiting")
                .equals(":1"));
        assertThat(control(a, "pause").statusCode()).isEqualTo(200);
        long pausedAt = System.nanoTime();
        Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> redis.command("ZCARD {oqp:coord:}waiting")
                .equals(":0"));
        System.out.printf("coordination pause: the paused tier's waiter left the shared index in %.2fs%n",
                (System.nanoTime() - pausedAt) / 1e9);
        assertThat(control(a, "resume").statusCode()).isEqualTo(200);
        assertThat(running.join().statusCode()).isEqualTo(200);
        assertThat(paused.join().statusCode()).isEqualTo(200);
    }

    @Test
    void aControlSentToOneReplicaActsOnEveryReplicaAndOneStartedLaterAdoptsIt() throws Exception {
        FakeOllama gpu = Replicas.host().tokens(List.of("a")).start();
        hosts.add(gpu);
        QueueProxy a = replicas.start(Replicas.yaml(redis.url(), "A", "", "gpu-1", gpu.baseUri(), 1));
        QueueProxy b = replicas.start(Replicas.yaml(redis.url(), "B", "", "gpu-1", gpu.baseUri(), 1));
        assertThat(control(a, "pause").statusCode()).isEqualTo(200);
        long pausedAt = System.nanoTime();
        Awaitility.await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(5))
                .until(() -> pausedTiers(b).equals("[\"high\"]"));
        System.out.printf("coordination controls: a pause sent to A held at B after %.1f ms%n",
                (System.nanoTime() - pausedAt) / 1e6);
        // B holds its high requests; its normal ones still go.
        CompletableFuture<HttpResponse<String>> held = send(b, "high", "held");
        assertThat(send(b, "normal", "flows").join().statusCode()).isEqualTo(200);
        Awaitility.await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> !held.isDone());
        // A replica that starts now adopts the pause from the shared state.
        QueueProxy c = replicas.start(Replicas.yaml(redis.url(), "C", "", "gpu-1", gpu.baseUri(), 1));
        Awaitility.await().atMost(Duration.ofSeconds(3)).until(() -> pausedTiers(c).equals("[\"high\"]"));
        // A resume sent to B ends it everywhere, and B's held request runs.
        assertThat(control(b, "resume").statusCode()).isEqualTo(200);
        assertThat(held.join().statusCode()).isEqualTo(200);
        Awaitility.await().atMost(Duration.ofSeconds(2))
                .until(() -> pausedTiers(a).equals("[]") && pausedTiers(c).equals("[]"));
        assertThat(redis.command("EVAL \"return string.find(redis.call('HGET', KEYS[1], 'high'), '^running') and 1"
                + " or 0\" 1 {oqp:coord:}controls")).isEqualTo(":1");
        // A flush sent to A empties B's waiting high requests too.
        assertThat(control(a, "pause").statusCode()).isEqualTo(200);
        Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> pausedTiers(b).equals("[\"high\"]"));
        CompletableFuture<HttpResponse<String>> flushed = send(b, "high", "flushed");
        Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> status(b).contains("\"queued_total\":1"));
        assertThat(control(a, "flush").statusCode()).isEqualTo(200);
        assertThat(flushed.join().statusCode()).isEqualTo(503);
        assertThat(gpu.requests().stream().filter(r -> r.path().equals("/api/generate")).count()).isEqualTo(2);
    }

    @Test
    void aReplicaWithAnotherConfigurationNeitherSteersNorFollowsTheOthersControls() throws Exception {
        FakeOllama gpu = Replicas.host().tokens(List.of("a")).start();
        hosts.add(gpu);
        QueueProxy a = replicas.start(Replicas.yaml(redis.url(), "A", "", "gpu-1", gpu.baseUri(), 1));
        QueueProxy b = replicas.start(Replicas.yaml(redis.url(), "B", "", "gpu-1", gpu.baseUri(), 1));
        // Another slot count: another configuration digest.
        QueueProxy other = replicas.start(Replicas.yaml(redis.url(), "X", "", "gpu-1", gpu.baseUri(), 2));
        assertThat(control(other, "pause").statusCode()).isEqualTo(200);
        assertThat(pausedTiers(other)).isEqualTo("[\"high\"]");
        assertThat(control(a, "drain").statusCode()).isEqualTo(200);
        Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> status(b).contains("\"draining\":[\"high\"]"));
        // Two heartbeats (500 ms each) later neither crossed: A and B are not paused, X is not draining.
        Awaitility.await().during(Duration.ofMillis(1200)).atMost(Duration.ofSeconds(3)).until(() ->
                pausedTiers(a).equals("[]") && pausedTiers(b).equals("[]")
                        && status(other).contains("\"draining\":[]"));
    }

    @Test
    void aReloadChangesTheDigestSoAReplicaReloadedAloneNeitherSteersNorFollows() throws Exception {
        FakeOllama gpu = host(Replicas.host().tokens(List.of("a")));
        String yamlA = Replicas.yaml(redis.url(), "A", "", "gpu-1", gpu.baseUri(), 1);
        String yamlB = Replicas.yaml(redis.url(), "B", "", "gpu-1", gpu.baseUri(), 1);
        QueueProxy a = replicas.start(yamlA);
        QueueProxy b = replicas.start(yamlB);
        // B alone is reloaded to let client c manage the queue: A must not follow c's control through B.
        String managing = ", max_priority: high }";
        String cManages = "client_id: c, key: " + Replicas.KEY_C + ", max_priority: high, scope: management }";
        String cLine = "client_id: c, key: " + Replicas.KEY_C + managing;
        assertThat(b.reload(ConfigLoader.parse(yamlB.replace(cLine, cManages), Target.QUEUE_PROXY, Map.of()))
                .applied()).isTrue();
        assertThat(control(b, "pause", Replicas.KEY_C).statusCode()).isEqualTo(200);
        Awaitility.await().during(Duration.ofMillis(1200)).atMost(Duration.ofSeconds(3))
                .until(() -> pausedTiers(a).equals("[]"));
        assertThat(control(b, "resume", Replicas.KEY_C).statusCode()).isEqualTo(200);
        // Reloaded alike, they agree again: a control through either acts on both.
        assertThat(a.reload(ConfigLoader.parse(yamlA.replace(cLine, cManages), Target.QUEUE_PROXY, Map.of()))
                .applied()).isTrue();
        assertThat(control(b, "pause", Replicas.KEY_C).statusCode()).isEqualTo(200);
        Awaitility.await().atMost(Duration.ofSeconds(3)).until(() -> pausedTiers(a).equals("[\"high\"]"));
    }

    private String status(QueueProxy p) throws Exception {
        return replicas.http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.port() + "/queue/status"))
                .header("Authorization", "Bearer " + Replicas.KEY_ADMIN).build(), HttpResponse.BodyHandlers.ofString())
                .body();
    }

    private String pausedTiers(QueueProxy p) throws Exception {
        return new com.fasterxml.jackson.databind.ObjectMapper().readTree(status(p)).get("paused").toString();
    }

    private HttpResponse<String> control(QueueProxy p, String action) throws Exception {
        return control(p, action, Replicas.KEY_ADMIN);
    }

    private HttpResponse<String> control(QueueProxy p, String action, String key) throws Exception {
        return replicas.http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.port() + "/queue/" + action
                + "?tier=high")).header("Authorization", "Bearer " + key)
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }

    private CompletableFuture<HttpResponse<String>> send(QueueProxy p, String tier, String prompt) {
        return replicas.http.sendAsync(Replicas.generate(p, "c", tier, prompt), HttpResponse.BodyHandlers.ofString());
    }
}
