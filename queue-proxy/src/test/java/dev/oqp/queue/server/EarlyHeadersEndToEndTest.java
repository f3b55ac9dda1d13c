package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.NodeClients;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A queued stream survives an intermediary's header timeout. {@link HeaderTimeoutRelay} plays Cloudflare or nginx
 * on loopback: 504 when no response headers come within its header timeout, and a cut when the body stays silent
 * longer than its read timeout. The figures are those of the issue scaled down by five, keeping their relation:
 * header (and read) timeout 4 s (20 s), a request queued about 6 s (25 s) behind a busy slot,
 * {@code early_headers_after} 1 s (10 s), {@code heartbeat} 1 s (15 s).
 */
class EarlyHeadersEndToEndTest {
    private static final String KEY = "app-key-0123456789abcdef";
    private static final String EARLY_KEY = "early-key-0123456789abcdef";
    private static final Duration RELAY_TIMEOUT = Duration.ofSeconds(4);
    private static final Duration TOKEN_DELAY = Duration.ofMillis(100);
    private static final Duration WAIT = Duration.ofSeconds(30);

    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    private FakeOllama fake() {
        return fixture.ollama(FakeOllama.builder().loaded("llama3:latest").tokens(Collections.nCopies(100, " t"))
                .tokenDelay(TOKEN_DELAY));
    }

    private static String auth(String early) {
        return "auth:\n  keys:\n    - {client_id: app, key: " + KEY + "}\n"
                + "    - {client_id: early, key: " + EARLY_KEY + ", early_headers: " + early + "}\n";
    }

    /** A streamed generate of {@code tokens} tokens ({@code tokens} × 100 ms), holding the one slot that long. */
    private CompletableFuture<HttpResponse<String>> blocker(QueueProxy proxy, int tokens) {
        return fixture.sendAsync(post(base(proxy).resolve("/api/generate"), "{\"model\":\"llama3\",\"prompt\":\"blocker\","
                + "\"options\":{\"num_predict\":" + tokens + "}}", "Authorization", "Bearer " + KEY));
    }

    private static String chatCompletion(int maxTokens) {
        return "{\"model\":\"llama3\",\"stream\":true,\"max_tokens\":" + maxTokens
                + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    }

    @Test
    void aQueuedOpenAiStreamOutlivesTheRelaysHeaderTimeoutWithCommentsBeforeItsFirstToken() throws Exception {
        NodeClients.require();
        FakeOllama ollama = fake();
        QueueProxy proxy = fixture.start(ollama, 1, auth("false")
                + "queue:\n  early_headers_after: 1s\n  heartbeat: 1s\n");
        try (HeaderTimeoutRelay relay = new HeaderTimeoutRelay(base(proxy), RELAY_TIMEOUT, RELAY_TIMEOUT)) {
            var blocker = blocker(proxy, 60);
            ollama.awaitRequests(1, WAIT);
            var raw = fixture.sendAsync(post(relay.base().resolve("/v1/chat/completions"), chatCompletion(3),
                    "Authorization", "Bearer " + KEY));
            awaitDepth(proxy, 1);
            // The official openai client, queued second, behind the blocker and the raw request.
            NodeClients.Result openai = NodeClients.node(Map.of("OQP_URL", relay.base().toString(), "OQP_KEY", KEY),
                    90, "test/early-headers.mjs", "openai-stream");

            HttpResponse<String> streamed = raw.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(streamed.statusCode()).as(streamed.body()).isEqualTo(200);
            assertThat(streamed.headers().firstValue("Content-Type")).hasValueSatisfying(
                    t -> assertThat(t).startsWith("text/event-stream"));
            assertThat(streamed.headers().firstValue("X-Accel-Buffering")).hasValue("no");
            assertThat(streamed.headers().firstValue("X-Queue-Position")).hasValue("1");
            assertThat(streamed.headers().firstValue("X-Request-ID")).isPresent();
            List<String> lines = streamed.body().lines().filter(l -> !l.isEmpty()).toList();
            int firstData = lines.indexOf(lines.stream().filter(l -> l.startsWith("data:")).findFirst().orElseThrow());
            List<String> comments = lines.subList(0, firstData);
            System.out.printf("queued stream through the relay: %d comments before the first token: %s%n",
                    comments.size(), comments);
            assertThat(comments).as("heartbeats, about one a second for the ~5 s wait").hasSizeGreaterThanOrEqualTo(3)
                    .allMatch(c -> c.matches(": queued position=\\d+ eta=\\d+s"));
            assertThat(lines.subList(firstData, lines.size())).as("nothing but the upstream's events after them")
                    .allMatch(l -> l.startsWith("data:"));
            assertThat(lines.get(lines.size() - 1)).isEqualTo("data: [DONE]");

            assertThat(openai.exitCode()).as(openai.output()).isZero();
            assertThat(openai.output()).contains("\"ok\":true", "\"finish\":\"length\"");
            assertThat(relay.headerTimeouts.get()).as("504s from the relay").isZero();
            assertThat(relay.readTimeouts.get()).as("bodies cut by the relay").isZero();

            HttpResponse<String> blocked = blocker.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(blocked.headers().firstValue("X-Accel-Buffering")).as("a native stream too").hasValue("no");
            assertSlotsBackToZero(proxy);
        }
    }

    @Test
    void withoutEarlyHeadersTheRelayGivesUpOnTheSameQueuedStream() throws Exception {
        FakeOllama ollama = fake();
        QueueProxy proxy = fixture.start(ollama, 1, auth("false") + "queue:\n  early_headers_after: 0s\n");
        try (HeaderTimeoutRelay relay = new HeaderTimeoutRelay(base(proxy), RELAY_TIMEOUT, RELAY_TIMEOUT)) {
            blocker(proxy, 60);
            ollama.awaitRequests(1, WAIT);
            HttpResponse<String> cut = fixture.send(post(relay.base().resolve("/v1/chat/completions"), chatCompletion(3),
                    "Authorization", "Bearer " + KEY));
            assertThat(cut.statusCode()).isEqualTo(504);
            assertThat(relay.headerTimeouts.get()).isEqualTo(1);
            assertSlotsBackToZero(proxy);
        }
    }

    @Test
    void anNdjsonStreamOptedInGetsItsExpiryAsAFinalErrorLineThatTheOllamaClientRaises() throws Exception {
        NodeClients.require();
        FakeOllama ollama = fake();
        QueueProxy proxy = fixture.start(ollama, 1, auth("true")
                + "queue:\n  early_headers_after: 1s\n  heartbeat: 1s\n  normal: {max_depth: 10, max_wait: 3s}\n");
        URI chat = base(proxy).resolve("/api/chat");
        String body = "{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        var blocker = blocker(proxy, 90);
        ollama.awaitRequests(1, WAIT);
        var early = fixture.http.sendAsync(post(chat, body, "Authorization", "Bearer " + EARLY_KEY),
                HttpResponse.BodyHandlers.ofInputStream());
        // The default for a key that did not opt in: nothing until the answer, a 503 at expiry.
        var plain = fixture.sendAsync(post(chat, body, "Authorization", "Bearer " + KEY));
        awaitDepth(proxy, 2);
        // When its headers arrive, both requests still wait (headers after 1 s, expiry after 3 s): sent early.
        CompletableFuture<Integer> depthAtHeaders = early.thenApply(r -> proxy.scheduler().snapshot().totalDepth());
        assertThat(depthAtHeaders.get(WAIT.toSeconds(), TimeUnit.SECONDS)).as("waiting when the headers came")
                .isEqualTo(2);
        NodeClients.Result client = NodeClients.node(Map.of("OQP_URL", base(proxy).toString(), "OQP_KEY", EARLY_KEY),
                60, "test/early-headers.mjs", "ollama-chat");

        HttpResponse<InputStream> opened = early.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(opened.statusCode()).isEqualTo(200);
        assertThat(opened.headers().firstValue("Content-Type")).hasValue("application/x-ndjson");
        assertThat(opened.headers().firstValue("X-Accel-Buffering")).hasValue("no");
        assertThat(new String(opened.body().readAllBytes(), StandardCharsets.UTF_8))
                .as("one error line, nothing blank or not JSON before it")
                .isEqualTo("{\"error\":\"waited in the queue longer than max_wait (3s for priority normal)\"}\n");

        HttpResponse<String> refused = plain.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(refused.statusCode()).isEqualTo(503);
        assertThat(refused.headers().firstValue("Retry-After")).isPresent();
        assertThat(refused.body()).contains("waited in the queue longer than max_wait");

        assertThat(client.exitCode()).as(client.output()).isZero();
        System.out.print("ollama client on an expired early stream: " + client.output());
        assertThat(client.output()).as("a plain Error from the error line, not a ResponseError from a status")
                .contains("\"ok\":false", "\"name\":\"Error\"", "waited in the queue longer than max_wait");
        assertThat(ollama.requests()).as("only the blocker reached the host").hasSize(1);
        assertThat(blocker.get(WAIT.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertSlotsBackToZero(proxy);
    }

    static void awaitDepth(QueueProxy proxy, int depth) {
        await().atMost(WAIT).pollInterval(Duration.ofMillis(5)).untilAsserted(() ->
                assertThat(proxy.scheduler().snapshot().totalDepth()).as("queued").isEqualTo(depth));
    }

    static void assertSlotsBackToZero(QueueProxy proxy) {
        await().atMost(WAIT).pollInterval(Duration.ofMillis(10)).untilAsserted(() -> {
            assertThat(proxy.scheduler().snapshot().totalDepth()).as("queued").isZero();
            assertThat(proxy.scheduler().snapshot().inFlight()).as("scheduler leases").isZero();
            assertThat(proxy.pool().inFlight()).as("slots").isZero();
            assertThat(proxy.pool().clientsInFlight()).as("client slots").isEmpty();
        });
    }
}
