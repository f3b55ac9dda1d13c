package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.get;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.queue.routing.Host;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Per-(host, model) caps end to end: what the fake host ran at once, per model, while the proxy dispatched a mix of a
 * capped model and another one to it.
 */
class ModelCapsEndToEndTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final ObjectMapper JSON = new ObjectMapper();
    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    /** The cap written on the host by the model's name, or fleet-wide by a glob: the same behaviour. */
    @ParameterizedTest
    @ValueSource(strings = {"host entry", "fleet glob"})
    void aModelCappedAtOneOnAHostNeverRunsTwiceThereWhileAnotherModelKeepsFlowing(String where) throws Exception {
        FakeOllama gpu = fixture.ollama(FakeOllama.builder().loaded("big:70b", "small:latest")
                .tokens(Collections.nCopies(50, " t")).tokenDelay(Duration.ofMillis(10)));
        String hostModels = where.equals("host entry") ? "      models: {\"BIG:70b\": {max_concurrent: 1}}\n" : "";
        String globs = where.equals("fleet glob") ? "  models: {\"big:*\": {max_concurrent: 1}}\n" : "";
        QueueProxy proxy = fixture.start(gpu, 4, "ollama:\n  health_check_interval: 1h\n  model_sync_interval: 1h\n"
                + globs + "  hosts:\n    - name: gpu-1\n      url: " + gpu.baseUri() + "\n      max_concurrent: 4\n"
                + hostModels);
        await().atMost(WAIT).until(() -> proxy.fleet().host("gpu-1").inventory().syncedAt() != null);

        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            // About 200 ms each: four of them in a row take 800 ms.
            answers.add(fixture.sendAsync(post(base(proxy).resolve("/api/generate"), slow("big:70b", "big-" + i, 20))));
        }
        for (int i = 0; i < 8; i++) {
            answers.add(fixture.sendAsync(post(base(proxy).resolve("/api/generate"), slow("small", "small-" + i, 5))));
        }
        for (CompletableFuture<HttpResponse<String>> answer : answers) {
            assertThat(answer.get().statusCode()).isEqualTo(200);
        }

        List<RecordedRequest> big = generated(gpu, "big");
        List<RecordedRequest> small = generated(gpu, "small");
        long lastBigStart = big.stream().mapToLong(RecordedRequest::receivedNanos).max().orElseThrow();
        long lastSmallEnd = small.stream().mapToLong(RecordedRequest::completedNanos).max().orElseThrow();
        System.out.printf("per-model cap (%s): big:70b ran at most %d at once (cap 1), small at most %d on the other 3"
                + " slots; the last small ended %.0f ms before the last big started%n", where,
                gpu.maxConcurrency("big:70b"), gpu.maxConcurrency("small"), (lastBigStart - lastSmallEnd) / 1e6);
        assertThat(big).hasSize(4);
        assertThat(small).hasSize(8);
        assertThat(gpu.maxConcurrency("big:70b")).as("the capped model, on the fake's own count").isEqualTo(1);
        assertThat(gpu.maxConcurrency("small")).as("the other model used the host's free slots").isGreaterThan(1);
        assertThat(gpu.maxConcurrency()).isLessThanOrEqualTo(4);
        assertThat(lastSmallEnd).as("the small requests were not held behind the capped ones").isLessThan(lastBigStart);

        Host host = proxy.fleet().host("gpu-1");
        await().atMost(WAIT).until(() -> proxy.pool().inFlight() == 0);
        assertThat(proxy.pool().modelsInFlight(host)).isEmpty();
        JsonNode status = JSON.readTree(fixture.send(get(base(proxy).resolve("/queue/status"))).body());
        JsonNode caps = status.get("hosts").get(0).get("model_caps");
        assertThat(caps).hasSize(1);
        assertThat(caps.get(0).get("model").asText()).isEqualTo("big:70b");
        assertThat(caps.get(0).get("max_concurrent").asInt()).isEqualTo(1);
        assertThat(caps.get(0).get("in_flight").asInt()).isZero();
    }

    private static List<RecordedRequest> generated(FakeOllama gpu, String prefix) {
        return gpu.requests().stream().filter(r -> r.path().equals("/api/generate"))
                .filter(r -> r.bodyJson().get("prompt").asText().startsWith(prefix)).toList();
    }

    private static String slow(String model, String prompt, int tokens) {
        return "{\"model\":\"" + model + "\",\"prompt\":\"" + prompt + "\",\"stream\":false,\"options\":{\"num_predict\":"
                + tokens + "}}";
    }
}
