package dev.oqp.sidecar;

import static dev.oqp.sidecar.SidecarFixture.base;
import static dev.oqp.sidecar.SidecarFixture.service;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.LogCapture;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.common.testing.TestSockets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Requests the sidecar refuses before anything is injected or sent upstream, and what they leave in logs and metrics. */
class SidecarRefusalsTest {
    private final SidecarFixture fixture = new SidecarFixture();
    private FakeOllama ollama;

    @AfterEach
    void tearDown() throws Exception {
        fixture.close();
        if (ollama != null) {
            ollama.stop();
        }
    }

    private Sidecar start() throws Exception {
        ollama = FakeOllama.builder().installed("llama3:latest").start();
        return fixture.start(service("ui", ollama.baseUri(), "headers:", "  Authorization: \"Bearer injected\"")
                + "sidecar:\n  metrics_port: " + SidecarFixture.OTHER_PLACEHOLDER_PORT + "\n  drain_timeout: 1s\n");
    }

    /** The whole answer to one raw request (the JDK client refuses to send such targets). */
    private static String raw(int port, String method, String target, Map<String, String> headers) throws IOException {
        try (var socket = TestSockets.rawRequest(port, method, target, headers, "POST".equals(method) ? "{}" : null)) {
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static String body(String answer) {
        return answer.substring(answer.indexOf("\r\n\r\n") + 4);
    }

    @Test
    void aMalformedPercentEscapeInTheQueryIs400AndReachesNoUpstream() throws Exception {
        Sidecar sidecar = start();
        int port = sidecar.port("ui");

        String tags = raw(port, "GET", "/api/tags?%zz=1", Map.of());
        String generate = raw(port, "POST", "/api/generate?%zz=1", Map.of());
        String models = raw(port, "GET", "/v1/models?a=%4", Map.of());

        assertThat(tags).startsWith("HTTP/1.1 400");
        assertThat(body(tags)).isEqualTo("{\"error\":\"the query string is malformed\"}");
        assertThat(generate).startsWith("HTTP/1.1 400");
        assertThat(models).startsWith("HTTP/1.1 400");
        assertThat(body(models)).contains("\"type\":\"invalid_request_error\"");
        assertThat(ollama.requests()).isEmpty();
        assertThat(fixture.get(URI.create("http://127.0.0.1:" + sidecar.metricsPort() + "/metrics")).body())
                .contains("oqp_sidecar_requests_total{service=\"ui\",status=\"400\"} 3.0")
                .doesNotContain("status=\"502\"");
    }

    @Test
    void aPathThatIsNotCanonicalIs400AndNeverForwarded() throws Exception {
        Sidecar sidecar = start();
        int port = sidecar.port("ui");

        for (String path : new String[] {"/api/%74ags", "/api/tags;x=1", "/api/./tags", "/api/x/../tags",
                "/api/tags/", "/api/t%41gs"}) {
            assertThat(raw(port, "GET", path, Map.of())).as(path).startsWith("HTTP/1.1 400");
        }
        assertThat(raw(port, "POST", "/api/sh%6fw", Map.of())).startsWith("HTTP/1.1 400");
        String encodedName = raw(port, "GET", "/v1/models/llama3%3Alatest", Map.of());

        assertThat(encodedName).startsWith("HTTP/1.1 200");
        assertThat(ollama.requests()).extracting(RecordedRequest::path).containsExactly("/v1/models/llama3:latest");
        assertThat(fixture.get(base(sidecar, "ui").resolve("/api/tags")).statusCode()).isEqualTo(200);
    }

    @Test
    void aDuplicatedOrMalformedHostIsCountedAndLoggedOnlyAsABoundedExcerptAtDebug() throws Exception {
        Sidecar sidecar = start();
        int port = sidecar.port("ui");
        String junk = "x".repeat(7000) + "<script>";

        try (LogCapture logs = LogCapture.start()) {
            assertThat(raw(port, "GET", "/", Map.of("Host", "first\r\nHost: second"))).startsWith("HTTP/1.1 400");
            assertThat(raw(port, "GET", "/", Map.of("Host", junk))).startsWith("HTTP/1.1 400");

            assertThat(logs.lines()).as("no client text beyond an excerpt")
                    .noneMatch(line -> line.contains("x".repeat(65)) || line.contains("second"));
            assertThat(logs.lines()).as("not a warning").noneMatch(line -> line.contains("\"level\":\"WARN\""));
            assertThat(logs.lines()).anyMatch(line -> line.contains("\"level\":\"DEBUG\"")
                    && line.contains("Duplicate Host Header"));
        }
        assertThat(ollama.requests()).isEmpty();
        assertThat(fixture.get(URI.create("http://127.0.0.1:" + sidecar.metricsPort() + "/metrics")).body())
                .contains("oqp_sidecar_bad_requests_total{reason=\"host\"} 2.0");
    }
}
