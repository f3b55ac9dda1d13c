package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.generate;
import static dev.oqp.queue.server.QueueFixture.get;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * With authentication off, a caller's {@code X-Client-ID} names the client (as in the Python tool) for fairness,
 * caps, usage, metrics and what the host is told; bounded by {@code auth.max_header_clients}. Asserted on what
 * the fake Ollama received and in which order.
 */
class HeaderIdentityEndToEndTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    private static FakeOllama.Builder slowFake() {
        return FakeOllama.builder().installed("llama3:latest").tokens(Collections.nCopies(200, " t"))
                .tokenDelay(Duration.ofMillis(10));
    }

    /** A non-streamed generate whose upstream work is {@code tokens} × 10 ms. */
    private static String gen(String prompt, int tokens) {
        return "{\"model\":\"llama3\",\"prompt\":\"" + prompt + "\",\"stream\":false,\"options\":{\"num_predict\":"
                + tokens + "}}";
    }

    private static String prompt(RecordedRequest r) {
        return r.bodyJson().get("prompt").asText();
    }

    private static HttpResponse<String> done(CompletableFuture<HttpResponse<String>> response) throws Exception {
        return response.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Test
    void twoHeaderClientsTakeTurnsForTheSlots() throws Exception {
        FakeOllama ollama = fixture.ollama(slowFake());
        QueueProxy proxy = fixture.start(ollama, 1, "");
        URI generate = base(proxy).resolve("/api/generate");

        var blocker = fixture.sendAsync(post(generate, gen("blocker", 150), "X-Client-ID", "carol"));
        ollama.awaitRequests(1, WAIT);
        List<CompletableFuture<HttpResponse<String>>> queued = new ArrayList<>();
        int depth = 0;
        // All of alice's first, then bob's: one anonymous client would be served in that order.
        for (String client : List.of("alice", "bob")) {
            for (int i = 1; i <= 3; i++) {
                queued.add(fixture.sendAsync(post(generate, gen(client.charAt(0) + "" + i, 1), "X-Client-ID", client)));
                int expected = ++depth;
                await().atMost(WAIT).pollInterval(Duration.ofMillis(5))
                        .until(() -> proxy.scheduler().snapshot().totalDepth() == expected);
            }
        }

        assertThat(done(blocker).statusCode()).isEqualTo(200);
        for (var response : queued) {
            assertThat(done(response).statusCode()).isEqualTo(200);
        }
        List<RecordedRequest> received = ollama.requests().stream().filter(r -> r.method().equals("POST")).toList();
        assertThat(received).extracting(HeaderIdentityEndToEndTest::prompt)
                .containsExactly("blocker", "a1", "b1", "a2", "b2", "a3", "b3");
        assertThat(received).extracting(r -> r.header("X-Client-ID"))
                .as("the host is told the id the proxy resolved")
                .containsExactly("carol", "alice", "bob", "alice", "bob", "alice", "bob");
    }

    @Test
    void aConfiguredKeysCapAppliesToTheIdTheHeaderNames() throws Exception {
        FakeOllama ollama = fixture.ollama(slowFake());
        QueueProxy proxy = fixture.start(ollama, 4, """
                auth:
                  enabled: false
                  keys:
                    - client_id: capped
                      key: capped-key-0123456789abcdef
                      max_concurrent: 1
                """);
        URI generate = base(proxy).resolve("/api/generate");

        var first = fixture.sendAsync(post(generate, gen("c1", 30), "X-Client-ID", "capped"));
        ollama.awaitRequests(1, WAIT);
        var second = fixture.sendAsync(post(generate, gen("c2", 1), "X-Client-ID", "capped"));
        await().atMost(WAIT).until(() -> proxy.scheduler().snapshot().queuedPerClient().getOrDefault("capped", 0) == 1);
        HttpResponse<String> free = fixture.send(post(generate, gen("free", 1), "X-Client-ID", "someone"));

        assertThat(free.statusCode()).as("another id is not held behind the capped one").isEqualTo(200);
        assertThat(second).as("capped at one in flight: waits for c1").isNotDone();
        assertThat(done(first).statusCode()).isEqualTo(200);
        assertThat(done(second).statusCode()).isEqualTo(200);
        assertThat(ollama.requests()).extracting(HeaderIdentityEndToEndTest::prompt).containsExactly("c1", "free", "c2");
    }

    @Test
    void idsPastTheBoundArePooledAndTheIdsShowInMetricsAndUsage() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = fixture.start(ollama, 2, """
                auth:
                  enabled: false
                  max_header_clients: 2
                  keys:
                    - client_id: team
                      key: team-key-0123456789abcdef
                """);
        URI generate = base(proxy).resolve("/api/generate");

        for (String id : List.of("first", "second", "third", "first", "fourth", "team", "bad id", "")) {
            HttpResponse<String> response = fixture.send(id.isEmpty() ? post(generate, generate("llama3", "none"))
                    : post(generate, generate("llama3", id), "X-Client-ID", id));
            assertThat(response.statusCode()).as(id).isEqualTo(200);
        }

        assertThat(ollama.requests()).extracting(r -> r.header("X-Client-ID")).containsExactly(
                "first", "second", "other", "first", "other", "team", "anonymous", "anonymous");
        String metrics = fixture.send(get(base(proxy).resolve("/metrics"))).body();
        for (String id : List.of("first", "second", "other", "team", "anonymous")) {
            assertThat(metrics.lines()).as(id).anyMatch(l -> l.startsWith("oqp_client_requests_total{")
                    && l.contains("\"" + id + "\"") && l.contains("\"200\""));
        }
        assertThat(metrics).doesNotContain("third", "fourth", "bad id");
        JsonNode usage = JSON.readTree(fixture.send(get(base(proxy).resolve("/usage"))).body());
        assertThat(usage.toString()).contains("\"first\"", "\"second\"", "\"other\"", "\"team\"")
                .doesNotContain("third", "fourth");
    }

    @Test
    void zeroHeaderClientsIgnoresTheHeader() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = fixture.start(ollama, 1, "auth:\n  max_header_clients: 0\n");

        fixture.send(post(base(proxy).resolve("/api/generate"), generate("llama3", "x"), "X-Client-ID", "alice"));

        assertThat(ollama.requests().get(0).headerValues("X-Client-ID")).containsExactly("anonymous");
    }

    @Test
    void withKeysTheHeaderIsIgnoredAndReplaced() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = fixture.start(ollama, 1, QueueProxyTest.KEYS);

        HttpResponse<String> response = fixture.send(post(base(proxy).resolve("/api/generate"), generate("llama3", "x"),
                "Authorization", "Bearer " + QueueProxyTest.KEY_CHAT, "X-Client-ID", "admin"));

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(ollama.requests().get(0).headerValues("X-Client-ID")).containsExactly("chat");
    }
}
