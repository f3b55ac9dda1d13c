package dev.oqp.queue.server;

import static dev.oqp.queue.server.EarlyHeadersEndToEndTest.assertSlotsBackToZero;
import static dev.oqp.queue.server.EarlyHeadersEndToEndTest.awaitDepth;
import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.Fault;
import dev.oqp.queue.routing.Host;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * After early headers the status is sent: whatever fails later reaches the client inside the stream, in its API's
 * own error shape (OpenAI's error object in an SSE event, Anthropic's {@code event: error}, Ollama's error line),
 * and failover still works while nothing of a host's answer was relayed.
 */
class InBandErrorsEndToEndTest {
    private static final String KEY = "early-key-0123456789abcdef";
    private static final String AUTH = "auth:\n  keys:\n    - {client_id: app, key: " + KEY + ", early_headers: true}\n";
    private static final String QUEUE = "queue:\n  early_headers_after: 200ms\n  heartbeat: 200ms\n";
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final String MESSAGES = "[{\"role\":\"user\",\"content\":\"hi\"}]";

    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    private FakeOllama fake(String... loaded) {
        return fixture.ollama(FakeOllama.builder().loaded(loaded).installed("llama3:latest")
                .tokens(Collections.nCopies(40, " t")).tokenDelay(Duration.ofMillis(50)));
    }

    private CompletableFuture<HttpResponse<String>> send(QueueProxy proxy, String path, String body) {
        return fixture.sendAsync(post(base(proxy).resolve(path), body, "Authorization", "Bearer " + KEY));
    }

    /** A streamed generate that holds the slot about a second and a half. */
    private CompletableFuture<HttpResponse<String>> blocker(QueueProxy proxy) {
        return send(proxy, "/api/generate", "{\"model\":\"llama3\",\"prompt\":\"blocker\",\"options\":{\"num_predict\":30}}");
    }

    @Test
    void anUpstreamErrorAfterEarlyHeadersIsTheLastEventOfEachRoutesStream() throws Exception {
        FakeOllama ollama = fake("llama3:latest");
        QueueProxy proxy = fixture.start(ollama, 1, AUTH + QUEUE);
        Map<String, String> bodies = new LinkedHashMap<>();
        bodies.put("/v1/chat/completions", "{\"model\":\"llama3\",\"stream\":true,\"messages\":" + MESSAGES + "}");
        bodies.put("/v1/completions", "{\"model\":\"llama3\",\"stream\":true,\"prompt\":\"hi\"}");
        bodies.put("/v1/responses", "{\"model\":\"llama3\",\"stream\":true,\"input\":\"hi\"}");
        bodies.put("/v1/messages", "{\"model\":\"llama3\",\"stream\":true,\"max_tokens\":5,\"messages\":" + MESSAGES + "}");
        bodies.put("/api/chat", "{\"model\":\"llama3\",\"messages\":" + MESSAGES + "}");
        var blocker = blocker(proxy);
        ollama.awaitRequests(1, WAIT);
        Map<String, CompletableFuture<HttpResponse<String>>> queued = new LinkedHashMap<>();
        bodies.forEach((path, body) -> queued.put(path, send(proxy, path, body)));
        awaitDepth(proxy, bodies.size());
        // Every queued request reaches the host after this, and gets its error.
        ollama.fault(Fault.status(500, "model runner crashed"));

        Map<String, String> expected = Map.of(
                "/v1/chat/completions", "data: {\"error\":{\"message\":\"model runner crashed\",\"type\":\"api_error\","
                        + "\"param\":null,\"code\":\"upstream_500\"}}",
                "/v1/completions", "data: {\"error\":{\"message\":\"model runner crashed\",\"type\":\"api_error\","
                        + "\"param\":null,\"code\":\"upstream_500\"}}",
                "/v1/responses", "data: {\"error\":{\"message\":\"model runner crashed\",\"type\":\"api_error\","
                        + "\"param\":null,\"code\":\"upstream_500\"}}",
                "/v1/messages", "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\","
                        + "\"message\":\"model runner crashed\"}}",
                "/api/chat", "{\"error\":\"model runner crashed\"}");
        for (var entry : queued.entrySet()) {
            String path = entry.getKey();
            HttpResponse<String> response = entry.getValue().get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(response.statusCode()).as(path).isEqualTo(200);
            String body = response.body();
            if (path.startsWith("/v1/")) {
                assertThat(body).as(path).startsWith(": queued position=").endsWith(expected.get(path) + "\n\n");
                assertThat(body.split("\n\n")).as(path + ": comments, then the error event only")
                        .allMatch(e -> e.startsWith(": queued") || e.equals(expected.get(path)));
            } else {
                assertThat(body).as(path + ": nothing but the error line").isEqualTo(expected.get(path) + "\n");
            }
        }
        assertThat(blocker.get(WAIT.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(ollama.requests()).hasSize(1 + bodies.size());
        assertSlotsBackToZero(proxy);
    }

    @Test
    void anExpiryAfterEarlyHeadersIsTheLastEventInEachApisShapeAndNothingReachesTheHost() throws Exception {
        FakeOllama ollama = fake("llama3:latest");
        QueueProxy proxy = fixture.start(ollama, 1, AUTH + QUEUE + "  normal: {max_depth: 10, max_wait: 1s}\n");
        var blocker = blocker(proxy);
        ollama.awaitRequests(1, WAIT);
        var openAi = send(proxy, "/v1/chat/completions", "{\"model\":\"llama3\",\"stream\":true,\"messages\":"
                + MESSAGES + "}");
        var anthropic = send(proxy, "/v1/messages", "{\"model\":\"llama3\",\"stream\":true,\"max_tokens\":5,"
                + "\"messages\":" + MESSAGES + "}");

        String message = "waited in the queue longer than max_wait (1s for priority normal)";
        HttpResponse<String> first = openAi.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(first.body()).startsWith(": queued position=").endsWith("\n\ndata: {\"error\":{\"message\":\""
                + message + "\",\"type\":\"api_error\",\"param\":null,\"code\":\"expired\"}}\n\n");
        HttpResponse<String> second = anthropic.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(second.statusCode()).isEqualTo(200);
        assertThat(second.body()).startsWith(": queued position=").endsWith("\n\nevent: error\ndata: {\"type\":\"error\","
                + "\"error\":{\"type\":\"overloaded_error\",\"message\":\"" + message + "\"}}\n\n");
        assertThat(ollama.requests()).as("only the blocker reached the host").hasSize(1);
        blocker.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertSlotsBackToZero(proxy);
    }

    @Test
    void aClientThatLeavesAfterEarlyHeadersIsRemovedFromTheQueueAndNeverReachesTheHost() throws Exception {
        FakeOllama ollama = fake("llama3:latest");
        QueueProxy proxy = fixture.start(ollama, 1, AUTH + QUEUE);
        var blocker = blocker(proxy);
        ollama.awaitRequests(1, WAIT);
        byte[] body = ("{\"model\":\"llama3\",\"stream\":true,\"messages\":" + MESSAGES + "}")
                .getBytes(StandardCharsets.UTF_8);
        try (Socket socket = new Socket("127.0.0.1", proxy.port())) {
            socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().write(body);
            socket.getOutputStream().flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(),
                    StandardCharsets.US_ASCII));
            assertThat(in.readLine()).isEqualTo("HTTP/1.1 200 OK");
            // Read up to the first heartbeat: the headers went out while the request waits.
            for (String line = in.readLine(); !line.startsWith(": queued"); line = in.readLine()) {
                assertThat(line).as("headers and chunk sizes only").doesNotStartWith("data:");
            }
            assertThat(proxy.scheduler().snapshot().totalDepth()).as("still queued").isEqualTo(1);
        }
        awaitDepth(proxy, 0);
        assertThat(blocker.get(WAIT.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(ollama.requests()).as("the request that left never reached the host").hasSize(1);
        assertSlotsBackToZero(proxy);
    }

    @Test
    void aHostThatRefusesAfterEarlyHeadersIsFailedOverAndTheStreamFollowsTheComments() throws Exception {
        // One global slot over two hosts: the queued request waits for it, and prefers gpu-a, where the model is loaded.
        FakeOllama a = fake("llama3:latest");
        FakeOllama b = fake();
        QueueProxy proxy = fixture.start(a, 1, AUTH + QUEUE + "proxy:\n  max_concurrent: 1\n  drain_timeout: 1s\n"
                + "ollama:\n  hosts:\n"
                + "    - {name: gpu-a, url: " + a.baseUri() + ", max_concurrent: 1}\n"
                + "    - {name: gpu-b, url: " + b.baseUri() + ", max_concurrent: 1}\n");
        await().atMost(WAIT).until(() -> proxy.fleet().hosts().stream()
                .allMatch(h -> h.inventory().syncedAt() != null && h.health() == Host.Health.HEALTHY));
        var blocker = blocker(proxy);
        a.awaitRequests(1, WAIT);
        // Returns once the headers arrived: early, while the request waits for the slot gpu-a's stream holds.
        HttpResponse<Stream<String>> queued = fixture.http.send(post(base(proxy).resolve("/v1/chat/completions"),
                "{\"model\":\"llama3\",\"stream\":true,\"max_tokens\":3,\"messages\":" + MESSAGES + "}",
                "Authorization", "Bearer " + KEY), HttpResponse.BodyHandlers.ofLines());
        assertThat(queued.statusCode()).isEqualTo(200);
        Iterator<String> lines = queued.body().iterator();
        assertThat(lines.next()).startsWith(": queued position=1");
        assertThat(proxy.scheduler().snapshot().totalDepth()).as("still queued").isEqualTo(1);
        // gpu-a goes away: its stream breaks (the slot comes back) and the queued request cannot connect there.
        a.fault(Fault.refuseConnections());

        List<String> events = new ArrayList<>();
        lines.forEachRemaining(l -> {
            if (!l.isEmpty()) {
                events.add(l);
            }
        });
        assertThat(events.get(events.size() - 1)).isEqualTo("data: [DONE]");
        assertThat(events).as("comments, then gpu-b's stream: no error").noneMatch(e -> e.contains("error"))
                .anyMatch(e -> e.startsWith("data: {"));
        assertThat(b.requests()).hasSize(1);
        blocker.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertSlotsBackToZero(proxy);
    }
}
