package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.get;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.Target;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.common.testing.TestSockets;
import dev.oqp.queue.reload.Reload;
import dev.oqp.queue.routing.Host;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Keeping models warm end to end ({@code preload}, {@code pin}): what the fake host was asked to load and when, what
 * its {@code /api/ps} lists, and what {@code /queue/status} shows.
 */
class WarmModelsEndToEndTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final ObjectMapper JSON = new ObjectMapper();
    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    private static String yaml(FakeOllama gpu, String hostExtra, String extra) {
        return "ollama:\n  health_check_interval: 500ms\n  model_sync_interval: 300ms\n  hosts:\n    - name: gpu-1\n"
                + "      url: " + gpu.baseUri() + "\n      max_concurrent: 2\n" + hostExtra + extra;
    }

    @Test
    void aPreloadedModelIsLoadedAtStartAndAgainAfterTheHostRestarts() throws Exception {
        int port = TestSockets.freePort();
        FakeOllama gpu = fixture.ollama(FakeOllama.builder().installed("phi3:mini", "llama3").listen("127.0.0.1", port));
        QueueProxy proxy = fixture.start(gpu, 2, yaml(gpu, "      preload: [phi3:mini]\n",
                "keep_alive:\n  default: 10m\n"));

        await().atMost(WAIT).until(() -> gpu.isLoaded("phi3:mini"));
        List<RecordedRequest> loads = loads(gpu);
        assertThat(loads).hasSize(1);
        assertThat(loads.get(0).bodyJson().get("model").asText()).isEqualTo("phi3:mini");
        assertThat(loads.get(0).bodyJson().has("prompt")).as("an empty generate").isFalse();
        assertThat(loads.get(0).bodyJson().get("keep_alive").asText()).as("the configured keep_alive").isEqualTo("10m");
        assertThat(gpu.isLoaded("llama3")).isFalse();
        await().atMost(WAIT).untilAsserted(() -> assertThat(warm(proxy).get("loaded").asBoolean()).isTrue());
        JsonNode warm = warm(proxy);
        assertThat(warm.get("name").asText()).isEqualTo("phi3:mini");
        assertThat(warm.get("preload").asBoolean()).isTrue();
        assertThat(warm.get("pinned").asBoolean()).isFalse();
        assertThat(warm.get("load").asText()).isEqualTo("loaded");

        // Ollama restarts: the same address, nothing in memory.
        gpu.stop();
        Host host = proxy.fleet().host("gpu-1");
        await().atMost(WAIT).until(() -> host.health() == Host.Health.UNHEALTHY);
        FakeOllama restarted = fixture.ollama(FakeOllama.builder().installed("phi3:mini", "llama3")
                .listen("127.0.0.1", port));
        assertThat(restarted.isLoaded("phi3:mini")).isFalse();
        await().atMost(WAIT).until(() -> restarted.isLoaded("phi3:mini"));
        assertThat(loads(restarted)).hasSize(1);
        await().atMost(WAIT).until(() -> host.health() == Host.Health.HEALTHY);
        await().atMost(WAIT).untilAsserted(() -> assertThat(warm(proxy).get("loaded").asBoolean()).isTrue());
    }

    @Test
    void aPinnedModelsRequestsCarryKeepAliveMinusOneAndAnEvictedPinnedModelIsLoadedAgain() throws Exception {
        FakeOllama gpu = fixture.ollama(FakeOllama.builder().installed("llama3.3:70b", "llama3"));
        QueueProxy proxy = fixture.start(gpu, 2, yaml(gpu,
                "      models: {\"llama3.3:70b\": {pin: true}}\n", "keep_alive:\n  default: 5m\n"));

        // Pinned means loaded at start too, and kept: keep_alive -1.
        await().atMost(WAIT).until(() -> gpu.isLoaded("llama3.3:70b"));
        assertThat(loads(gpu)).hasSize(1);
        assertThat(loads(gpu).get(0).bodyJson().get("keep_alive").asInt()).isEqualTo(-1);

        String pinned = "{\"model\":\"llama3.3:70b\",\"prompt\":\"hi\",\"stream\":false,\"keep_alive\":\"1m\"}";
        assertThat(fixture.send(post(base(proxy).resolve("/api/generate"), pinned)).statusCode()).isEqualTo(200);
        String other = "{\"model\":\"llama3\",\"prompt\":\"hi\",\"stream\":false}";
        assertThat(fixture.send(post(base(proxy).resolve("/api/generate"), other)).statusCode()).isEqualTo(200);
        RecordedRequest pinnedRequest = prompted(gpu, "llama3.3:70b");
        assertThat(pinnedRequest.bodyAsString()).as("the client's 1m is overridden by the last field")
                .endsWith(",\"keep_alive\":-1}");
        assertThat(pinnedRequest.bodyJson().get("keep_alive").asInt()).isEqualTo(-1);
        assertThat(prompted(gpu, "llama3").bodyJson().get("keep_alive").asText())
                .as("a model not pinned gets the configured default").isEqualTo("5m");

        // Another model needed the memory: the next /api/ps poll shows it gone, and it is loaded again.
        gpu.evict("llama3.3:70b");
        assertThat(gpu.isLoaded("llama3.3:70b")).isFalse();
        await().atMost(WAIT).until(() -> gpu.isLoaded("llama3.3:70b"));
        assertThat(loads(gpu)).hasSize(2);
        assertThat(loads(gpu).get(1).bodyJson().get("keep_alive").asInt()).isEqualTo(-1);
        await().atMost(WAIT).untilAsserted(() -> {
            JsonNode warm = warm(proxy);
            assertThat(warm.get("pinned").asBoolean()).isTrue();
            assertThat(warm.get("preload").asBoolean()).isFalse();
            assertThat(warm.get("loaded").asBoolean()).isTrue();
        });
    }

    @Test
    void aModelThatCannotBeLoadedIsAskedOnceNotInALoop() throws Exception {
        FakeOllama gpu = fixture.ollama(FakeOllama.builder().installed("llama3"));
        QueueProxy proxy = fixture.start(gpu, 2, yaml(gpu,
                "      models: {\"missing:7b\": {pin: true}}\n", ""));

        await().atMost(WAIT).untilAsserted(() -> assertThat(warm(proxy).get("load").asText()).isEqualTo("failed"));
        // Several model polls later (300 ms each), still the one attempt.
        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(5)).until(() -> loads(gpu).size() == 1);
        assertThat(warm(proxy).get("loaded").asBoolean()).isFalse();
    }

    @Test
    void aReloadThatAddsAPreloadAndACapAppliesThemToTheRunningHost() throws Exception {
        FakeOllama gpu = fixture.ollama(FakeOllama.builder().installed("phi3:mini", "llama3"));
        String before = yaml(gpu, "", "");
        QueueProxy proxy = fixture.start(gpu, 2, before);
        await().atMost(WAIT).until(() -> proxy.fleet().host("gpu-1").health() == Host.Health.HEALTHY);
        assertThat(loads(gpu)).isEmpty();

        Reload result = proxy.reload(ConfigLoader.parse(yaml(gpu,
                "      preload: [phi3:mini]\n      models: {llama3: {max_concurrent: 1}}\n", "")
                + "proxy:\n  drain_timeout: 1s\nlogging:\n  level: warn\n  access_log: false\n",
                Target.QUEUE_PROXY, Map.of()));

        assertThat(result.applied()).isTrue();
        await().atMost(WAIT).until(() -> gpu.isLoaded("phi3:mini"));
        assertThat(loads(gpu)).hasSize(1);
        assertThat(proxy.fleet().host("gpu-1").rules().maxConcurrent("llama3:latest")).isEqualTo(1);
        await().atMost(WAIT).untilAsserted(() -> assertThat(warm(proxy).get("loaded").asBoolean()).isTrue());
    }

    /** The empty generates the fake received (the proxy's loads). */
    private static List<RecordedRequest> loads(FakeOllama gpu) {
        return gpu.requests().stream().filter(r -> r.path().equals("/api/generate"))
                .filter(r -> !r.bodyJson().has("prompt")).toList();
    }

    private static RecordedRequest prompted(FakeOllama gpu, String model) {
        return gpu.requests().stream().filter(r -> r.path().equals("/api/generate"))
                .filter(r -> r.bodyJson().has("prompt") && r.bodyJson().get("model").asText().equals(model))
                .findFirst().orElseThrow();
    }

    /** gpu-1's one warm model in /queue/status. */
    private JsonNode warm(QueueProxy proxy) throws Exception {
        JsonNode status = JSON.readTree(fixture.send(get(base(proxy).resolve("/queue/status"))).body());
        JsonNode models = status.get("hosts").get(0).get("warm_models");
        assertThat(models).hasSize(1);
        return models.get(0);
    }
}
