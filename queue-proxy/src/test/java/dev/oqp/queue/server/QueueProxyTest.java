package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.generate;
import static dev.oqp.queue.server.QueueFixture.get;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.common.testing.TestSockets;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The queue proxy's pipeline end to end: a real client, the proxy and a fake Ollama, all on loopback. */
class QueueProxyTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String KEY_CHAT = "chat-key-0123456789abcdef";
    static final String KEY_READ = "read-key-0123456789abcdef";
    static final String KEY_ADMIN = "admin-key-0123456789abcdef";
    static final String KEYS = """
            auth:
              keys:
                - client_id: chat
                  key: %s
                  max_priority: high
                  models: ["llama3*"]
                - client_id: reader
                  key: %s
                  scope: read
                - client_id: admin
                  key: %s
                  scope: management
            """.formatted(KEY_CHAT, KEY_READ, KEY_ADMIN);

    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    private static String bearer(String key) {
        return "Bearer " + key;
    }

    @Test
    void rootStillSaysOllamaIsRunningByteForByte() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder());
        QueueProxy proxy = fixture.start(ollama, 1, "");

        HttpResponse<String> response = fixture.send(get(base(proxy).resolve("/")));

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("Ollama is running");
        assertThat(response.headers().firstValue("X-Upstream-Host")).hasValue("gpu-1");
        assertThat(response.headers().firstValue("X-Request-ID")).isPresent();
    }

    @Test
    void inferenceIsForwardedWithClientIdAndWithoutAuthorizationOrPriority() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = fixture.start(ollama, 1, KEYS);

        HttpResponse<String> response = fixture.send(post(base(proxy).resolve("/api/generate"),
                generate("llama3", "hello"), "Authorization", bearer(KEY_CHAT), "X-Queue-Priority", "high",
                "X-Request-ID", "my-request.1", "X-Client-ID", "spoofed"));

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("X-Request-ID")).hasValue("my-request.1");
        assertThat(response.headers().firstValue("X-Queue-Priority")).hasValue("high");
        assertThat(response.headers().firstValue("X-Queue-Wait-Time")).isPresent();
        assertThat(response.headers().firstValue("X-Upstream-Host")).hasValue("gpu-1");
        RecordedRequest received = ollama.requests().get(0);
        assertThat(received.header("Authorization")).isNull();
        assertThat(received.header("X-Queue-Priority")).isNull();
        assertThat(received.headerValues("X-Client-ID")).containsExactly("chat");
        assertThat(received.header("X-Request-ID")).isEqualTo("my-request.1");
        assertThat(received.bodyAsString()).isEqualTo(generate("llama3", "hello"));
    }

    @Test
    void missingOrUnknownKeyIs401WithBearerChallengeInBothShapes() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder());
        QueueProxy proxy = fixture.start(ollama, 1, KEYS);

        HttpResponse<String> missing = fixture.send(post(base(proxy).resolve("/api/generate"), generate("llama3", "x")));
        HttpResponse<String> unknown = fixture.send(post(base(proxy).resolve("/v1/chat/completions"),
                "{\"model\":\"llama3\",\"messages\":[]}", "Authorization", "Bearer not-a-key-at-all-xxxxxx"));

        assertThat(missing.statusCode()).isEqualTo(401);
        assertThat(missing.headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
        assertThat(JSON.readTree(missing.body()).get("error").isTextual()).isTrue();
        assertThat(unknown.statusCode()).isEqualTo(401);
        JsonNode error = JSON.readTree(unknown.body()).get("error");
        assertThat(error.get("message").asText()).isEqualTo("invalid API key");
        assertThat(error.get("type").asText()).isEqualTo("authentication_error");
        assertThat(ollama.requests()).isEmpty();
    }

    @Test
    void readKeyCannotGenerateButCanListModels() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = fixture.start(ollama, 1, KEYS);

        HttpResponse<String> generate = fixture.send(post(base(proxy).resolve("/api/generate"),
                generate("llama3", "x"), "Authorization", bearer(KEY_READ)));
        HttpResponse<String> openAi = fixture.send(post(base(proxy).resolve("/v1/chat/completions"),
                "{\"model\":\"llama3\",\"messages\":[]}", "Authorization", bearer(KEY_READ)));
        HttpResponse<String> tags = fixture.send(get(base(proxy).resolve("/api/tags"), "Authorization", bearer(KEY_READ)));

        assertThat(generate.statusCode()).isEqualTo(403);
        assertThat(JSON.readTree(generate.body()).get("error").asText()).contains("scope read");
        assertThat(openAi.statusCode()).isEqualTo(403);
        assertThat(JSON.readTree(openAi.body()).get("error").get("type").asText()).isEqualTo("permission_error");
        assertThat(tags.statusCode()).isEqualTo(200);
        assertThat(ollama.requests()).extracting(RecordedRequest::path).containsExactly("/api/tags");
    }

    @Test
    void modelOutsideTheAllowListIs403BeforeQueueing() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest", "qwen2.5:7b"));
        QueueProxy proxy = fixture.start(ollama, 1, KEYS);

        HttpResponse<String> response = fixture.send(post(base(proxy).resolve("/api/chat"),
                "{\"model\":\"qwen2.5:7b\",\"messages\":[]}", "Authorization", bearer(KEY_CHAT)));

        assertThat(response.statusCode()).isEqualTo(403);
        assertThat(JSON.readTree(response.body()).get("error").asText()).contains("qwen2.5:7b").contains("chat");
        assertThat(ollama.requests()).isEmpty();
    }

    @Test
    void badBodiesAre400AndOversizedOnesAre413InBothShapes() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder());
        QueueProxy proxy = fixture.start(ollama, 1, KEYS + "proxy:\n  max_body: 1KiB\n  drain_timeout: 1s\n");
        String auth = bearer(KEY_CHAT);

        HttpResponse<String> notJson = fixture.send(post(base(proxy).resolve("/api/generate"), "hello", "Authorization", auth));
        HttpResponse<String> array = fixture.send(post(base(proxy).resolve("/v1/embeddings"), "[1,2]", "Authorization", auth));
        HttpResponse<String> noModel = fixture.send(post(base(proxy).resolve("/api/chat"), "{\"messages\":[]}",
                "Authorization", auth));
        HttpResponse<String> tooLarge = fixture.send(post(base(proxy).resolve("/v1/completions"),
                "{\"model\":\"llama3\",\"prompt\":\"" + "x".repeat(2000) + "\"}", "Authorization", auth));

        assertThat(notJson.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(notJson.body()).get("error").isTextual()).isTrue();
        assertThat(array.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(array.body()).get("error").get("type").asText()).isEqualTo("invalid_request_error");
        assertThat(noModel.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(noModel.body()).get("error").asText()).isEqualTo("model is required");
        assertThat(tooLarge.statusCode()).isEqualTo(413);
        assertThat(JSON.readTree(tooLarge.body()).get("error").get("message").asText()).contains("1024");
        assertThat(ollama.requests()).isEmpty();
    }

    @Test
    void unknownPathIs404InOllamaShape() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder());
        QueueProxy proxy = fixture.start(ollama, 1, KEYS);

        HttpResponse<String> response = fixture.send(get(base(proxy).resolve("/api/nope"), "Authorization",
                bearer(KEY_READ)));

        assertThat(response.statusCode()).isEqualTo(404);
        assertThat(JSON.readTree(response.body()).get("error").asText()).isEqualTo("404 page not found");
        assertThat(ollama.requests()).isEmpty();
    }

    @Test
    void keepAliveIsInjectedWhenAbsentAndOverriddenOnlyWhenConfigured() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = fixture.start(ollama, 1, "keep_alive:\n  default: 30m\n");

        fixture.send(post(base(proxy).resolve("/api/generate"), generate("llama3", "a")));
        fixture.send(post(base(proxy).resolve("/api/generate"),
                "{\"model\":\"llama3\",\"prompt\":\"b\",\"stream\":false,\"keep_alive\":\"1m\"}"));

        List<RecordedRequest> received = ollama.awaitRequests(2, Duration.ofSeconds(5));
        assertThat(received.get(0).bodyJson().get("keep_alive").asText()).isEqualTo("30m");
        assertThat(received.get(1).bodyJson().get("keep_alive").asText()).isEqualTo("1m");
    }

    @Test
    void streamingTokensAreCountedPerClientAndModel() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = fixture.start(ollama, 1, KEYS);

        HttpResponse<String> stream = fixture.send(post(base(proxy).resolve("/api/generate"),
                "{\"model\":\"llama3\",\"prompt\":\"one two three\"}", "Authorization", bearer(KEY_CHAT)));
        // Counted at completion, which may run just after the client has the last byte.
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> fixture.send(get(
                base(proxy).resolve("/metrics"), "Authorization", bearer(KEY_READ))).body()
                .contains("oqp_client_requests_total{client=\"chat\",status=\"200\"} 1.0"));
        HttpResponse<String> metrics = fixture.send(get(base(proxy).resolve("/metrics"), "Authorization",
                bearer(KEY_READ)));

        assertThat(stream.statusCode()).isEqualTo(200);
        assertThat(stream.body().lines().count()).isEqualTo(6);
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body())
                .contains("oqp_tokens_total{client=\"chat\",kind=\"prompt\",model=\"llama3:latest\"} 3.0")
                .contains("oqp_tokens_total{client=\"chat\",kind=\"completion\",model=\"llama3:latest\"} 5.0")
                .contains("oqp_queue_depth{tier=\"high\"} 0.0")
                .contains("oqp_host_inflight{host=\"gpu-1\"} 0.0")
                .contains("oqp_host_requests_total{host=\"gpu-1\",name=\"gpu-1\"} 1.0")
                .contains("oqp_queue_processed_total{tier=\"normal\"} 1.0")
                .contains("oqp_client_requests_total{client=\"chat\",status=\"200\"} 1.0");
    }

    @Test
    void metricsNeedAKeyUnlessPublic() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder());
        QueueProxy locked = fixture.start(ollama, 1, KEYS);
        QueueProxy open = fixture.start(ollama, 1, KEYS + "admin:\n  metrics_public: true\n");

        assertThat(fixture.send(get(base(locked).resolve("/metrics"))).statusCode()).isEqualTo(401);
        assertThat(fixture.send(get(base(open).resolve("/metrics"))).statusCode()).isEqualTo(200);
        assertThat(fixture.send(get(base(locked).resolve("/health"))).statusCode()).isEqualTo(200);
    }

    @Test
    void readyAnswersWhetherAHostIsReachable() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder());
        QueueProxy proxy = fixture.start(ollama, 1, KEYS + "ollama:\n  health_check_interval: 200ms\n  hosts:\n"
                + "    - {name: gpu-1, url: \"" + ollama.baseUri() + "\"}\n");

        Awaitility.await().atMost(Duration.ofSeconds(5))
                .until(() -> fixture.send(get(base(proxy).resolve("/ready"))).statusCode() == 200);
        HttpResponse<String> ready = fixture.send(get(base(proxy).resolve("/ready")));
        ollama.stop();
        Awaitility.await().atMost(Duration.ofSeconds(5))
                .until(() -> fixture.send(get(base(proxy).resolve("/ready"))).statusCode() == 503);
        HttpResponse<String> notReady = fixture.send(get(base(proxy).resolve("/ready")));

        assertThat(JSON.readTree(ready.body()).get("hosts_up").asInt()).isEqualTo(1);
        assertThat(JSON.readTree(notReady.body()).get("hosts_up").asInt()).isZero();
        assertThat(JSON.readTree(notReady.body()).get("status").asText()).isEqualTo("no healthy host");
        assertThat(ollama.probes()).as("answered from the background checks").isNotEmpty();
        assertThat(ollama.requests()).isEmpty();
    }

    @Test
    void queueControlsNeedManagementScopeAndAValidTier() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder());
        QueueProxy proxy = fixture.start(ollama, 1, KEYS);

        HttpResponse<String> byReader = fixture.send(post(base(proxy).resolve("/queue/pause"), "", "Authorization",
                bearer(KEY_READ)));
        HttpResponse<String> badTierUnauthorised = fixture.send(post(base(proxy).resolve("/queue/pause?tier=urgent"), ""));
        HttpResponse<String> badTier = fixture.send(post(base(proxy).resolve("/queue/pause?tier=urgent"), "",
                "Authorization", bearer(KEY_ADMIN)));
        HttpResponse<String> pause = fixture.send(post(base(proxy).resolve("/queue/pause?tier=low"), "",
                "Authorization", bearer(KEY_ADMIN)));
        HttpResponse<String> status = fixture.send(get(base(proxy).resolve("/queue/status"), "Authorization",
                bearer(KEY_READ)));

        assertThat(byReader.statusCode()).isEqualTo(403);
        assertThat(badTierUnauthorised.statusCode()).isEqualTo(401);
        assertThat(badTier.statusCode()).isEqualTo(400);
        assertThat(pause.statusCode()).isEqualTo(200);
        JsonNode body = JSON.readTree(status.body());
        assertThat(body.get("paused")).extracting(JsonNode::asText).containsExactly("low");
        assertThat(body.get("hosts").get(0).get("name").asText()).isEqualTo("gpu-1");
    }

    @Test
    void injectionPortWorksForAClientThatSendsNoHeaders() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        int port = QueueFixture.PLACEHOLDER_PORT;
        QueueProxy proxy = fixture.start(ollama, 1, KEYS + """
                services:
                  - name: webui
                    listen: %d
                    headers:
                      Authorization: "Bearer %s"
                      X-Queue-Priority: high
                """.formatted(port, KEY_CHAT));

        HttpResponse<String> response = fixture.send(post(QueueFixture.base(proxy, "webui").resolve("/api/generate"),
                generate("llama3", "hi")));
        HttpResponse<String> health = fixture.send(get(QueueFixture.base(proxy, "webui").resolve("/health")));

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("X-Queue-Priority")).hasValue("high");
        assertThat(health.statusCode()).isEqualTo(200);
        RecordedRequest received = ollama.requests().get(0);
        assertThat(received.headerValues("X-Client-ID")).containsExactly("chat");
        assertThat(received.header("Authorization")).isNull();
        assertThat(received.header("X-Queue-Priority")).isNull();
        assertThat(Map.of("health", health.body())).containsEntry("health", "{\"status\":\"ok\"}\n");
    }
    @Test
    void aQueuedRequestOutlivesTheConnectionIdleTimeout() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest")
                .firstByteDelay(Duration.ofMillis(900)));
        QueueProxy proxy = fixture.start(ollama, 1, "");
        proxy.mainConnector().setIdleTimeout(300);

        var blocker = fixture.sendAsync(post(base(proxy).resolve("/api/generate"), generate("llama3", "blocker")));
        ollama.awaitRequests(1, Duration.ofSeconds(5));
        var queued = fixture.sendAsync(post(base(proxy).resolve("/api/generate"), generate("llama3", "queued")));

        assertThat(blocker.get().statusCode()).isEqualTo(200);
        HttpResponse<String> response = queued.get();
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(Long.parseLong(response.headers().firstValue("X-Queue-Wait-Time").orElseThrow())).isGreaterThan(300);
        assertThat(ollama.requests()).hasSize(2);
    }

    @Test
    void tooManyFailedKeysFromOneAddressGet429WithRetryAfter() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder());
        QueueProxy proxy = fixture.start(ollama, 1, KEYS + "  rate_limit: { max_failures: 3, window: 60s }\n");

        for (int i = 0; i < 3; i++) {
            assertThat(fixture.send(get(base(proxy).resolve("/api/tags"), "Authorization", "Bearer wrong-key-" + i
                    + "-xxxxxxxxxxxx")).statusCode()).isEqualTo(401);
        }
        HttpResponse<String> blocked = fixture.send(get(base(proxy).resolve("/api/tags"), "Authorization",
                "Bearer wrong-key-again-xxxxxxxxxxxx"));
        HttpResponse<String> valid = fixture.send(get(base(proxy).resolve("/api/tags"), "Authorization",
                bearer(KEY_READ)));

        assertThat(blocked.statusCode()).isEqualTo(429);
        assertThat(Long.parseLong(blocked.headers().firstValue("Retry-After").orElseThrow())).isBetween(1L, 60L);
        assertThat(valid.statusCode()).as("a valid key is never locked out by others' failures").isEqualTo(200);
        assertThat(ollama.requests()).hasSize(1);
    }

    @Test
    void requestsWithoutAKeyAreNotCountedAsFailedGuesses() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder());
        QueueProxy proxy = fixture.start(ollama, 1, KEYS + "  rate_limit: { max_failures: 2, window: 60s }\n");

        for (int i = 0; i < 5; i++) {
            assertThat(fixture.send(get(base(proxy).resolve("/favicon.ico"))).statusCode()).isEqualTo(401);
        }
        HttpResponse<String> wrong = fixture.send(get(base(proxy).resolve("/api/tags"), "Authorization",
                "Bearer wrong-key-xxxxxxxxxxxx"));

        assertThat(wrong.statusCode()).isEqualTo(401);
    }

    @Test
    void spoofedForwardedForFromAnUntrustedPeerDoesNotEscapeTheLimiter() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder());
        QueueProxy proxy = fixture.start(ollama, 1, KEYS + "  rate_limit: { max_failures: 2, window: 60s }\n");

        for (int i = 0; i < 2; i++) {
            fixture.send(get(base(proxy).resolve("/api/tags"), "Authorization", "Bearer wrong-key-xxxxxxxxxxxx",
                    "X-Forwarded-For", "198.51.100." + i));
        }
        HttpResponse<String> third = fixture.send(get(base(proxy).resolve("/api/tags"), "Authorization",
                "Bearer wrong-key-xxxxxxxxxxxx", "X-Forwarded-For", "198.51.100.99"));

        assertThat(third.statusCode()).isEqualTo(429);
    }

    @Test
    void withoutKeysALoopbackListenerRefusesForeignHostNames() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder());
        QueueProxy proxy = fixture.start(ollama, 1, "");

        try (var socket = TestSockets.rawRequest(proxy.port(), "POST", "/queue/pause",
                Map.of("Host", "attacker.example:" + proxy.port(), "Origin", "http://attacker.example"), "x")) {
            String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(answer).startsWith("HTTP/1.1 403").contains("host not allowed");
        }
        HttpResponse<String> local = fixture.send(get(base(proxy).resolve("/queue/summary")));

        assertThat(local.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(local.body()).get("paused").asBoolean()).isFalse();
    }

    @Test
    void aPathThatIsNotCanonicalIs400AndNeverForwarded() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = fixture.start(ollama, 1, "");

        for (String path : new String[] {"/api/./tags", "/api/x/../tags", "/api/%2e/tags"}) {
            try (var socket = TestSockets.rawRequest(proxy.port(), "GET", path, Map.of(), null)) {
                String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(answer).as(path).startsWith("HTTP/1.1 400");
            }
        }
        HttpResponse<String> encoded = fixture.send(get(base(proxy).resolve("/v1/models/llama3%3Alatest")));

        assertThat(encoded.statusCode()).isEqualTo(200);
        assertThat(ollama.requests()).extracting(RecordedRequest::path).containsExactly("/v1/models/llama3:latest");
    }
}
