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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What {@code /queue/status} shows a caller without the management scope: its own client only in {@code clients} and
 * {@code reserves.clients}, and in {@code model_caps} only names from the config and the hosts' inventories, never a
 * model name another client chose.
 */
class StatusVisibilityEndToEndTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String KEY_ADMIN = "admin-key-0123456789abcdef";
    private static final String KEY_ALICE = "alice-key-0123456789abcdef";
    private static final String KEY_BOB = "bob-key-0123456789abcdefgh";
    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    @Test
    void aReadKeySeesItsOwnClientAndNoModelNameAnotherClientChose() throws Exception {
        FakeOllama gpu = fixture.ollama(FakeOllama.builder().loaded("big:70b").pullable("big:alice-secret-project")
                .tokens(Collections.nCopies(100, " t")).tokenDelay(Duration.ofMillis(50)));
        QueueProxy proxy = fixture.start(gpu, 4, """
                ollama:
                  health_check_interval: 1h
                  model_sync_interval: 1h
                  models: {"big:*": {max_concurrent: 2}}
                  hosts:
                    - name: gpu-1
                      url: %s
                      max_concurrent: 4
                auth:
                  keys:
                    - {client_id: admin, key: %s, scope: management}
                    - {client_id: alice, key: %s, min_slots: 1}
                    - {client_id: bob, key: %s, scope: read, min_slots: 1}
                """.formatted(gpu.baseUri(), KEY_ADMIN, KEY_ALICE, KEY_BOB));
        await().atMost(WAIT).until(() -> proxy.fleet().host("gpu-1").inventory().syncedAt() != null);
        // Pulled on the host behind the proxy's back: a name no config and no synced inventory gives.
        assertThat(fixture.send(post(gpu.baseUri().resolve("/api/pull"),
                "{\"model\":\"big:alice-secret-project\",\"stream\":false}")).statusCode()).isEqualTo(200);

        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        answers.add(fixture.sendAsync(post(base(proxy).resolve("/api/generate"),
                "{\"model\":\"big:alice-secret-project\",\"prompt\":\"p\",\"stream\":false,"
                        + "\"options\":{\"num_predict\":100}}", "Authorization", "Bearer " + KEY_ALICE)));
        await().atMost(WAIT).until(() -> proxy.pool().inFlight() == 1);

        JsonNode bob = status(proxy, KEY_BOB);
        JsonNode admin = status(proxy, KEY_ADMIN);

        assertThat(names(bob.get("clients"))).containsExactly("bob");
        assertThat(names(bob.get("reserves").get("clients"))).containsExactly("bob");
        assertThat(models(bob)).as("configured and inventory names only").containsExactly("big:70b");
        assertThat(names(admin.get("clients"))).contains("admin", "alice", "bob");
        assertThat(admin.get("clients").get("alice").get("in_flight").asInt()).isEqualTo(1);
        assertThat(names(admin.get("reserves").get("clients"))).containsExactly("alice", "bob");
        assertThat(models(admin)).contains("big:70b", "big:alice-secret-project");
        for (CompletableFuture<HttpResponse<String>> answer : answers) {
            answer.get();
        }
        await().atMost(WAIT).until(() -> proxy.pool().inFlight() == 0);
    }

    private JsonNode status(QueueProxy proxy, String key) throws Exception {
        HttpResponse<String> r = fixture.send(get(base(proxy).resolve("/queue/status"), "Authorization",
                "Bearer " + key));
        assertThat(r.statusCode()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    private static List<String> names(JsonNode object) {
        List<String> names = new ArrayList<>();
        object.fieldNames().forEachRemaining(names::add);
        return names;
    }

    private static List<String> models(JsonNode status) {
        List<String> models = new ArrayList<>();
        status.get("hosts").get(0).get("model_caps").forEach(c -> models.add(c.get("model").asText()));
        return models;
    }
}
