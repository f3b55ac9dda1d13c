package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.get;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The bounds of keeping models warm: a pinned model evicted again and again stops being reloaded, and a load never
 * runs beside live requests of its model on its host.
 */
class WarmModelsGuardEndToEndTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final ObjectMapper JSON = new ObjectMapper();
    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    private static String yaml(FakeOllama gpu, String models) {
        return "ollama:\n  health_check_interval: 500ms\n  model_sync_interval: 300ms\n  hosts:\n    - name: gpu-1\n"
                + "      url: " + gpu.baseUri() + "\n      max_concurrent: 2\n      models: " + models + "\n";
    }

    @Test
    void aPinnedModelEvictedThreeTimesWithinTenMinutesIsNotLoadedAgain() throws Exception {
        FakeOllama gpu = fixture.ollama(FakeOllama.builder().installed("llama3.3:70b"));
        QueueProxy proxy = fixture.start(gpu, 2, yaml(gpu, "{\"llama3.3:70b\": {pin: true}}"));
        await().atMost(WAIT).until(() -> gpu.isLoaded("llama3.3:70b"));
        assertThat(loads(gpu)).hasSize(1);

        for (int eviction = 1; eviction <= 2; eviction++) {
            gpu.evict("llama3.3:70b");
            int expected = eviction + 1;
            await().atMost(WAIT).until(() -> gpu.isLoaded("llama3.3:70b") && loads(gpu).size() == expected);
            // Let a poll after the load see it loaded (an eviction is told only by a poll after the load).
            await().atMost(WAIT).untilAsserted(() -> assertThat(warm(proxy).get("loaded").asBoolean()).isTrue());
        }
        gpu.evict("llama3.3:70b");

        await().atMost(WAIT).untilAsserted(() -> assertThat(warm(proxy).get("load").asText()).isEqualTo("failed"));
        // Several polls later (300 ms each): not loaded a fourth time.
        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(5)).until(() -> loads(gpu).size() == 3);
        assertThat(gpu.isLoaded("llama3.3:70b")).isFalse();
    }

    @Test
    void anEvictedPinnedModelIsNotLoadedBesideItsLiveRequestButAfterIt() throws Exception {
        FakeOllama gpu = fixture.ollama(FakeOllama.builder().installed("big:70b")
                .tokens(Collections.nCopies(40, " t")).tokenDelay(Duration.ofMillis(50)));
        QueueProxy proxy = fixture.start(gpu, 2, yaml(gpu, "{\"big:70b\": {pin: true, max_concurrent: 1}}"));
        await().atMost(WAIT).until(() -> gpu.isLoaded("big:70b"));
        await().atMost(WAIT).untilAsserted(() -> assertThat(warm(proxy).get("loaded").asBoolean()).isTrue());
        assertThat(loads(gpu)).hasSize(1);

        CompletableFuture<HttpResponse<String>> live = fixture.sendAsync(post(base(proxy).resolve("/api/generate"),
                "{\"model\":\"big:70b\",\"prompt\":\"live\",\"stream\":false,\"options\":{\"num_predict\":40}}"));
        await().atMost(WAIT).until(() -> proxy.pool().inFlight() == 1);
        gpu.evict("big:70b");
        // About 2 s of generation: several polls (300 ms) see it evicted while it runs.
        assertThat(live.get().statusCode()).isEqualTo(200);
        RecordedRequest request = gpu.requests().stream().filter(r -> r.path().equals("/api/generate"))
                .filter(r -> r.bodyJson().has("prompt")).findFirst().orElseThrow();

        await().atMost(WAIT).until(() -> gpu.isLoaded("big:70b"));
        List<RecordedRequest> loads = loads(gpu);
        System.out.printf("warm-up loads beside the live request: %d of %d%n",
                loads.stream().skip(1).filter(l -> l.receivedNanos() < request.completedNanos()).count(),
                loads.size() - 1);
        assertThat(loads.subList(1, loads.size())).as("no load while the capped model's request ran")
                .allSatisfy(l -> assertThat(l.receivedNanos()).isGreaterThan(request.completedNanos()));
        assertThat(gpu.maxConcurrency("big:70b")).isEqualTo(1);
    }

    /** The empty generates the fake received (the proxy's loads). */
    private static List<RecordedRequest> loads(FakeOllama gpu) {
        return gpu.requests().stream().filter(r -> r.path().equals("/api/generate"))
                .filter(r -> !r.bodyJson().has("prompt")).toList();
    }

    /** gpu-1's one warm model in /queue/status. */
    private JsonNode warm(QueueProxy proxy) throws Exception {
        JsonNode status = JSON.readTree(fixture.send(get(base(proxy).resolve("/queue/status"))).body());
        JsonNode models = status.get("hosts").get(0).get("warm_models");
        assertThat(models).hasSize(1);
        return models.get(0);
    }
}
