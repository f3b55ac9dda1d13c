package dev.oqp.queue.coordination;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.queue.server.QueueProxy;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.sync.RedisCommands;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** A slot reserved for high holds across replicas: the acquire script leaves it free for low requests of both. */
class SharedReservedSlotsEndToEndTest extends ReplicasTestBase {
    private static final String RESERVE = "queue:\n  aging: 0\n  high: {reserved_slots: 1, borrow: 0}\n";


    @Test
    void lowRequestsAtTwoReplicasLeaveTheReservedSlotFreeAndAHighOneTakesItAtOnce() throws Exception {
        FakeOllama gpu = host(Replicas.host().tokens(List.of("x")).firstByteDelay(Duration.ofMillis(2000)));
        QueueProxy a = replicas.start(Replicas.yaml(redis.url(), "A", "", "gpu-1", gpu.baseUri(), 3) + RESERVE);
        QueueProxy b = replicas.start(Replicas.yaml(redis.url(), "B", "", "gpu-1", gpu.baseUri(), 3) + RESERVE);
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            all.add(send(a, "low", "low-at-a" + i));
            all.add(send(b, "low", "low-at-b" + i));
        }
        gpu.awaitRequests(2, Duration.ofSeconds(5));
        Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(queued(a) + queued(b))
                .as("two lows wait: the third slot is high's").isEqualTo(2));

        all.add(send(b, "high", "high-at-b"));
        all.forEach(f -> assertThat(f.join().statusCode()).isEqualTo(200));

        List<String> order = new ArrayList<>();
        for (RecordedRequest r : gpu.requests()) {
            if (r.path().equals("/api/generate")) {
                order.add(r.bodyJson().get("prompt").asText().substring(2));
            }
        }
        System.out.println("coordination reserved slot, order at the host: " + order);
        assertThat(order).hasSize(5);
        assertThat(order.get(2)).as("the high request went up before any waiting low").isEqualTo("high-at-b");
        assertThat(Replicas.maxConcurrency(gpu)).isLessThanOrEqualTo(3);
        assertSlotSetsEmpty();
    }

    private int queued(QueueProxy p) throws Exception {
        HttpRequest summary = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.port() + "/queue/summary"))
                .header("Authorization", "Bearer " + Replicas.KEY_A).build();
        return new ObjectMapper().readTree(replicas.http.send(summary, HttpResponse.BodyHandlers.ofString()).body())
                .get("queued").asInt();
    }

    private CompletableFuture<HttpResponse<String>> send(QueueProxy p, String tier, String prompt) {
        return replicas.http.sendAsync(Replicas.generate(p, "c", tier, prompt), HttpResponse.BodyHandlers.ofString());
    }

    private void assertSlotSetsEmpty() {
        RedisClient client = RedisClient.create(redis.url());
        try {
            RedisCommands<String, String> sync = client.connect().sync();
            Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                for (String key : sync.keys("{oqp:coord:}*")) {
                    if (key.contains("host:") || key.contains("client:") || key.endsWith("global")) {
                        assertThat(sync.zcard(key)).as(key).isZero();
                    }
                }
            });
        } finally {
            client.shutdown();
        }
    }
}
