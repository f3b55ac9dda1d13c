package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.Target;
import dev.oqp.common.testing.FakeOllama;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code proxy.allow_model_management: false}: the model management routes answer 403 to everyone, a management
 * key included, auth on or off, and nothing reaches a host; a reload turns it on and off.
 */
class ModelManagementSwitchEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String MESSAGE =
            "model management endpoints are disabled; set allow_model_management: true in config to enable";

    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    /** One request to each management route, with {@code headers}. */
    private static List<HttpRequest> managementRequests(QueueProxy proxy, String... headers) {
        var base = base(proxy);
        HttpRequest.Builder delete = HttpRequest.newBuilder(base.resolve("/api/delete"))
                .method("DELETE", HttpRequest.BodyPublishers.ofString("{\"model\":\"llama3\"}"));
        for (int i = 0; i < headers.length; i += 2) {
            delete.header(headers[i], headers[i + 1]);
        }
        return List.of(
                post(base.resolve("/api/pull"), "{\"model\":\"llama3\"}", headers),
                post(base.resolve("/api/push"), "{\"model\":\"me/llama3\"}", headers),
                post(base.resolve("/api/create"), "{\"model\":\"mine\",\"from\":\"llama3\"}", headers),
                post(base.resolve("/api/copy"), "{\"source\":\"llama3\",\"destination\":\"copy\"}", headers),
                delete.build(),
                post(base.resolve("/api/blobs/sha256:" + "0".repeat(64)), "blob", headers));
    }

    private void assertAllDisabled(QueueProxy proxy, String... headers) throws Exception {
        for (HttpRequest request : managementRequests(proxy, headers)) {
            HttpResponse<String> response = fixture.send(request);
            assertThat(response.statusCode()).as(request.uri().getPath()).isEqualTo(403);
            assertThat(JSON.readTree(response.body()).get("error").asText()).as(request.uri().getPath()).isEqualTo(MESSAGE);
        }
    }

    @Test
    void disabledManagementIs403ForAManagementKeyAndNothingReachesTheHost() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest").pullable("llama3:latest"));
        QueueProxy proxy = fixture.start(ollama, 1, QueueProxyTest.KEYS + "proxy:\n  allow_model_management: false\n"
                + "  drain_timeout: 1s\n");

        assertAllDisabled(proxy, "Authorization", "Bearer " + QueueProxyTest.KEY_ADMIN);
        HttpResponse<String> tags = fixture.send(QueueFixture.get(base(proxy).resolve("/api/tags"),
                "Authorization", "Bearer " + QueueProxyTest.KEY_ADMIN));

        assertThat(tags.statusCode()).as("other routes unchanged").isEqualTo(200);
        assertThat(ollama.requests()).extracting(r -> r.path()).containsExactly("/api/tags");
    }

    @Test
    void disabledManagementIs403WithAuthOffAndAReloadTurnsItOnAndOff() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest").pullable("llama3:latest"));
        String off = "proxy:\n  allow_model_management: false\n  drain_timeout: 1s\n";
        QueueProxy proxy = fixture.start(ollama, 1, off);
        assertAllDisabled(proxy);
        assertThat(ollama.requests()).isEmpty();

        String hosts = "ollama:\n  hosts:\n    - {name: gpu-1, url: '" + ollama.baseUri() + "'}\n";
        proxy.reload(ConfigLoader.parse("proxy:\n  drain_timeout: 1s\n" + hosts, Target.QUEUE_PROXY, Map.of()));
        HttpResponse<String> pull = fixture.send(post(base(proxy).resolve("/api/pull"),
                "{\"model\":\"llama3\",\"stream\":false}"));
        assertThat(pull.statusCode()).as("allowed again: forwarded").isEqualTo(200);
        assertThat(ollama.requests()).extracting(r -> r.path()).containsExactly("/api/pull");

        proxy.reload(ConfigLoader.parse(off + hosts, Target.QUEUE_PROXY, Map.of()));
        assertAllDisabled(proxy);
        assertThat(ollama.requests()).hasSize(1);
    }
}
