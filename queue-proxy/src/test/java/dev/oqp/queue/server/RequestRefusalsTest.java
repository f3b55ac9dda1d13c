package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.get;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.LogCapture;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.common.testing.TestSockets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Requests the gate refuses before any decision on them (authentication, scope, a host), and what they leave in the
 * metrics and logs.
 */
class RequestRefusalsTest {
    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    /** Two hosts, so a request that reached one would fail over to the other. */
    private QueueProxy startWithTwoHosts(FakeOllama first, FakeOllama second) throws Exception {
        return fixture.start(first, 1, QueueProxyTest.KEYS + "ollama:\n  hosts:\n"
                + "    - name: gpu-1\n      url: " + first.baseUri() + "\n"
                + "    - name: gpu-2\n      url: " + second.baseUri() + "\n");
    }

    /** The whole answer to one raw request (the JDK client refuses to send such targets). */
    private static String raw(QueueProxy proxy, String method, String target, String key) throws IOException {
        Map<String, String> headers = new HashMap<>();
        if (key != null) {
            headers.put("Authorization", "Bearer " + key);
        }
        String body = "POST".equals(method) ? QueueFixture.generate("llama3", "x") : null;
        try (var socket = TestSockets.rawRequest(proxy.port(), method, target, headers, body)) {
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private String metrics(QueueProxy proxy) throws Exception {
        return fixture.send(get(base(proxy).resolve("/metrics"), "Authorization", "Bearer " + QueueProxyTest.KEY_READ))
                .body();
    }

    @Test
    void aMalformedPercentEscapeInTheQueryIs400AndTouchesNoHost() throws Exception {
        FakeOllama first = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        FakeOllama second = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = startWithTwoHosts(first, second);

        String tags = raw(proxy, "GET", "/api/tags?%zz=1", QueueProxyTest.KEY_READ);
        String generate = raw(proxy, "POST", "/api/generate?%zz=1", QueueProxyTest.KEY_CHAT);
        String models = raw(proxy, "GET", "/v1/models?a=%4", null);

        assertThat(tags).startsWith("HTTP/1.1 400").endsWith("{\"error\":\"the query string is malformed\"}");
        assertThat(generate).startsWith("HTTP/1.1 400");
        assertThat(models).as("before authentication").startsWith("HTTP/1.1 400")
                .contains("\"type\":\"invalid_request_error\"");
        assertThat(first.requests()).isEmpty();
        assertThat(second.requests()).isEmpty();
        // Both hosts healthy (a host's first check may still be on its way on a loaded machine), none failed.
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(metrics(proxy))
                        .doesNotContainPattern("oqp_host_failures_total\\{host=\"gpu-[12]\",name=\"gpu-[12]\"} [1-9]")
                        .contains("oqp_host_healthy{host=\"gpu-1\",name=\"gpu-1\"} 1.0",
                                "oqp_host_healthy{host=\"gpu-2\",name=\"gpu-2\"} 1.0"));
    }

    @Test
    void aPathThatIsNotCanonicalIs400BeforeAuthentication() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = fixture.start(ollama, 1, QueueProxyTest.KEYS);

        for (String path : new String[] {"/api/%74ags", "/api/tags;x=1", "/api/tags/", "/queue/%73ummary",
                "/metrics;x"}) {
            assertThat(raw(proxy, "GET", path, null)).as(path).startsWith("HTTP/1.1 400");
            assertThat(raw(proxy, "GET", path, QueueProxyTest.KEY_ADMIN)).as(path).startsWith("HTTP/1.1 400");
        }
        assertThat(raw(proxy, "POST", "/api/sh%6fw", null)).startsWith("HTTP/1.1 400");
        assertThat(raw(proxy, "POST", "/api/sh%6fw", QueueProxyTest.KEY_ADMIN)).startsWith("HTTP/1.1 400");
        String encodedName = raw(proxy, "GET", "/v1/models/llama3%3Alatest", QueueProxyTest.KEY_READ);

        assertThat(encodedName).startsWith("HTTP/1.1 200");
        assertThat(ollama.requests()).extracting(RecordedRequest::path).containsExactly("/v1/models/llama3:latest");
    }

    @Test
    void aDuplicatedOrMalformedHostIsCountedAndLoggedOnlyAsABoundedExcerptAtDebug() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder());
        QueueProxy proxy = fixture.start(ollama, 1, QueueProxyTest.KEYS);
        String junk = "x".repeat(7000) + "<script>";

        try (LogCapture logs = LogCapture.start()) {
            for (String host : new String[] {"first\r\nHost: second", junk}) {
                try (var socket = TestSockets.rawRequest(proxy.port(), "GET", "/", Map.of("Host", host), null)) {
                    String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                    assertThat(answer).startsWith("HTTP/1.1 400");
                }
            }

            assertThat(logs.lines()).as("no client text beyond an excerpt")
                    .noneMatch(line -> line.contains("x".repeat(65)) || line.contains("second"));
            assertThat(logs.lines()).as("not a warning").noneMatch(line -> line.contains("\"level\":\"WARN\""));
            assertThat(logs.lines()).anyMatch(line -> line.contains("\"level\":\"DEBUG\"")
                    && line.contains("Duplicate Host Header"));
        }
        assertThat(ollama.requests()).isEmpty();
        assertThat(metrics(proxy)).contains("oqp_bad_requests_total{reason=\"host\"} 2.0");
    }
}
