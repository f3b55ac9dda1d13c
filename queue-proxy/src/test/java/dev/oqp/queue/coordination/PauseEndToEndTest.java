package dev.oqp.queue.coordination;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.queue.cache.RedisFixture;
import dev.oqp.queue.server.QueueProxy;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A paused tier's waiters leave the shared order (they hold no host back) and ask again once resumed. */
class PauseEndToEndTest {
    private RedisFixture redis;
    private final Replicas replicas = new Replicas();
    private final List<FakeOllama> hosts = new ArrayList<>();

    @BeforeEach
    void start() {
        redis = RedisFixture.start();
    }

    @AfterEach
    void stop() {
        replicas.close();
        hosts.forEach(FakeOllama::stop);
        redis.close();
    }

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

    private HttpResponse<String> control(QueueProxy p, String action) throws Exception {
        return replicas.http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.port() + "/queue/" + action
                + "?tier=high")).header("Authorization", "Bearer " + Replicas.KEY_ADMIN)
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }

    private CompletableFuture<HttpResponse<String>> send(QueueProxy p, String tier, String prompt) {
        return replicas.http.sendAsync(Replicas.generate(p, "c", tier, prompt), HttpResponse.BodyHandlers.ofString());
    }
}
