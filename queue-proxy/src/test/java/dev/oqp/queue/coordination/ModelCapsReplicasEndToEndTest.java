package dev.oqp.queue.coordination;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.queue.server.QueueProxy;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.sync.RedisCommands;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** A per-(host, model) cap holds over two replicas sharing one Valkey, while another model flows beside it. */
class ModelCapsReplicasEndToEndTest extends ReplicasTestBase {

    @Test
    void aModelCappedAtOneOnAHostRunsOnceThereOverTwoReplicasWhileAnotherModelFlows() throws Exception {
        FakeOllama gpu = host(FakeOllama.builder().loaded("m", "other").tokens(Collections.nCopies(30, " t"))
                .tokenDelay(Duration.ofMillis(10)));
        List<QueueProxy> proxies = new ArrayList<>();
        for (String id : List.of("A", "B")) {
            String yaml = Replicas.yaml(redis.url(), id, "", "gpu-1", gpu.baseUri(), 4).replace(
                    "      max_concurrent: 4\n", "      max_concurrent: 4\n      models: {\"m\": {max_concurrent: 1}}\n");
            assertThat(yaml).contains("models:");
            proxies.add(replicas.start(yaml));
        }
        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            answers.add(replicas.http.sendAsync(generate(proxies.get(i % 2), "m", "capped-" + i, 15),
                    HttpResponse.BodyHandlers.ofString()));
        }
        for (int i = 0; i < 8; i++) {
            answers.add(replicas.http.sendAsync(generate(proxies.get(i % 2), "other", "free-" + i, 5),
                    HttpResponse.BodyHandlers.ofString()));
        }
        for (CompletableFuture<HttpResponse<String>> answer : answers) {
            assertThat(answer.join().statusCode()).isEqualTo(200);
        }
        Map<String, Integer> perModel = Replicas.maxPerClient(List.of(gpu), r -> r.bodyJson().get("model").asText());
        System.out.printf("per-model cap over 2 replicas: model m (cap 1) ran at most %d at once (the fake's own count"
                + " %d), model other at most %d (fake %d), the host at most %d of its 4 slots%n", perModel.get("m"),
                gpu.maxConcurrency("m"), perModel.get("other"), gpu.maxConcurrency("other"), gpu.maxConcurrency());
        assertThat(gpu.maxConcurrency("m")).isEqualTo(1);
        assertThat(perModel.get("m")).isEqualTo(1);
        assertThat(gpu.maxConcurrency("other")).as("the other model used the free slots").isGreaterThan(1);
        assertThat(gpu.maxConcurrency()).isLessThanOrEqualTo(4);

        RedisClient client = RedisClient.create(redis.url());
        try {
            RedisCommands<String, String> sync = client.connect().sync();
            Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                List<String> keys = sync.keys("{oqp:coord:}*");
                for (String key : keys) {
                    // host-model:gpu-1:m:latest included: released with its lease.
                    if (key.contains("host") || key.contains("client:") || key.endsWith("global")) {
                        assertThat(sync.zcard(key)).as(key).isZero();
                    }
                }
            });
        } finally {
            client.shutdown();
        }
    }

    private static HttpRequest generate(QueueProxy proxy, String model, String prompt, int tokens) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port() + "/api/generate"))
                .header("Authorization", "Bearer " + Replicas.KEY_C).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model + "\",\"prompt\":\"" + prompt
                        + "\",\"stream\":false,\"options\":{\"num_predict\":" + tokens + "}}"))
                .timeout(Duration.ofSeconds(60)).build();
    }
}
