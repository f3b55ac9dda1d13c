package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.get;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.config.Tier;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.queue.reload.Reload;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reserved slots seen from the outside: {@code queue.high.reserved_slots} with and without {@code borrow}, a key's
 * {@code min_slots}, the status and metric, the reload check. Low traffic is slow generations (the fake's token
 * delay × {@code num_predict}); what is claimed is checked on what the fake received and in which order.
 */
class ReservedSlotsEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final Duration TOKEN_DELAY = Duration.ofMillis(10);
    private static final String KEY_BATCH = "batch-key-0123456789abcdef";
    private static final String KEY_CHAT = "chat-key-0123456789abcdef";

    private final QueueFixture fixture = new QueueFixture();

    @TempDir
    Path dir;

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    @Test
    void aHighRequestTakesTheReservedSlotAtOnceWhileLowRequestsWait() throws Exception {
        FakeOllama ollama = fixture.ollama(fake());
        QueueProxy proxy = fixture.start(ollama, 4, "queue:\n  aging: 0\n  high: {reserved_slots: 1, borrow: 0}\n");
        URI generate = base(proxy).resolve("/api/generate");

        List<CompletableFuture<HttpResponse<String>>> lows = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            lows.add(fixture.sendAsync(post(generate, gen("low" + i, 100), "X-Queue-Priority", "low")));
        }
        soon().untilAsserted(() -> {
            assertThat(ollama.inFlight()).as("low requests upstream").isEqualTo(3);
            assertThat(proxy.scheduler().snapshot().depth()).containsEntry(Tier.LOW, 3);
        });
        JsonNode high = status(proxy).path("reserves").path("high");
        assertThat(high.path("reserved").asInt()).isEqualTo(1);
        assertThat(high.path("borrow").asInt()).isZero();
        assertThat(high.path("borrowed").asInt()).isZero();

        HttpResponse<String> answer = fixture.send(post(generate, gen("high", 1), "X-Queue-Priority", "high"));

        assertThat(answer.statusCode()).isEqualTo(200);
        assertThat(prompts(ollama).indexOf("high")).as("the high request went up before any waiting low")
                .isEqualTo(3);
        System.out.println("high request with the reserve free: X-Queue-Wait-Time "
                + answer.headers().firstValue("X-Queue-Wait-Time").orElseThrow() + " ms");
        for (CompletableFuture<HttpResponse<String>> low : lows) {
            assertThat(done(low).statusCode()).isEqualTo(200);
        }
        assertThat(ollama.maxConcurrency()).as("the lows never took the reserved slot").isEqualTo(4);
        assertEverythingReturnedToZero(proxy, ollama);
    }

    @Test
    void aGlobalCapAboveTheHostsSlotsStillKeepsTheReserveOnTheHosts() throws Exception {
        FakeOllama ollama = fixture.ollama(fake());
        // proxy.max_concurrent 10 over a 4-slot host: the reserve is kept of the slots the host can take.
        QueueProxy proxy = fixture.start(ollama, 4, "proxy:\n  drain_timeout: 1s\n  max_concurrent: 10\n"
                + "queue:\n  aging: 0\n  high: {reserved_slots: 1, borrow: 0}\n");
        URI generate = base(proxy).resolve("/api/generate");
        List<CompletableFuture<HttpResponse<String>>> lows = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            lows.add(fixture.sendAsync(post(generate, gen("low" + i, 60), "X-Queue-Priority", "low")));
        }
        soon().untilAsserted(() -> {
            assertThat(ollama.inFlight()).as("low requests upstream: the host's 4 slots less the reserved one")
                    .isEqualTo(3);
            assertThat(proxy.scheduler().snapshot().depth()).containsEntry(Tier.LOW, 2);
        });
        HttpResponse<String> answer = fixture.send(post(generate, gen("high", 1), "X-Queue-Priority", "high"));
        assertThat(answer.statusCode()).isEqualTo(200);
        assertThat(prompts(ollama).indexOf("high")).as("the high request went up before any waiting low")
                .isEqualTo(3);
        for (CompletableFuture<HttpResponse<String>> low : lows) {
            assertThat(done(low).statusCode()).isEqualTo(200);
        }
        assertThat(ollama.maxConcurrency()).isEqualTo(4);
        assertEverythingReturnedToZero(proxy, ollama);
    }

    @Test
    void withNothingHighWaitingLowBorrowsUpToBorrowAndTheReserveComesBackAtEachRelease() throws Exception {
        FakeOllama ollama = fixture.ollama(fake());
        QueueProxy proxy = fixture.start(ollama, 4, "queue:\n  aging: 0\n  high: {reserved_slots: 2, borrow: 1}\n");
        URI generate = base(proxy).resolve("/api/generate");

        List<CompletableFuture<HttpResponse<String>>> lows = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            lows.add(fixture.sendAsync(post(generate, gen("low" + i, 50 + 10 * i), "X-Queue-Priority", "low")));
        }
        soon().untilAsserted(() -> assertThat(ollama.inFlight()).isEqualTo(3));
        assertThat(status(proxy).path("reserves").path("high").path("borrowed").asInt()).isEqualTo(1);
        assertThat(metrics(proxy)).contains("oqp_reserved_slots_borrowed{tier=\"high\"} 1.0",
                "oqp_reserved_slots_borrowed{tier=\"low\"} 0.0");

        for (CompletableFuture<HttpResponse<String>> low : lows) {
            assertThat(done(low).statusCode()).isEqualTo(200);
        }
        assertThat(prompts(ollama)).hasSize(7);
        assertThat(ollama.maxConcurrency()).as("two unreserved slots and one borrowed, never the second reserved one")
                .isEqualTo(3);
        assertEverythingReturnedToZero(proxy, ollama);
        assertThat(status(proxy).path("reserves").path("high").path("borrowed").asInt()).isZero();
    }

    @Test
    void aKeysMinSlotsGiveTheNextFreeSlotToItsWaitingRequestBeforeOtherKeysHigherOnes() throws Exception {
        FakeOllama ollama = fixture.ollama(fake());
        QueueProxy proxy = fixture.start(ollama, 3, """
                queue:
                  aging: 0
                auth:
                  keys:
                    - {client_id: batch, key: %s, max_priority: high}
                    - {client_id: chat, key: %s, max_priority: low, min_slots: 1}
                """.formatted(KEY_BATCH, KEY_CHAT));
        URI generate = base(proxy).resolve("/api/generate");

        List<CompletableFuture<HttpResponse<String>>> batch = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            batch.add(fixture.sendAsync(post(generate, gen("batch" + i, 60 + 15 * i), "Authorization", bearer(KEY_BATCH),
                    "X-Queue-Priority", "high")));
            soon().untilAsserted(() -> assertThat(ollama.requests().size() + proxy.scheduler().snapshot().totalDepth())
                    .isEqualTo(batch.size()));
        }
        soon().untilAsserted(() -> assertThat(ollama.inFlight()).as("chat waits for nothing: lent in full").isEqualTo(3));
        CompletableFuture<HttpResponse<String>> chat = fixture.sendAsync(post(generate, gen("chat", 1),
                "Authorization", bearer(KEY_CHAT), "X-Queue-Priority", "low"));
        soon().untilAsserted(() -> assertThat(proxy.scheduler().snapshot().depth()).containsEntry(Tier.LOW, 1));

        assertThat(done(chat).statusCode()).isEqualTo(200);
        for (CompletableFuture<HttpResponse<String>> b : batch) {
            assertThat(done(b).statusCode()).isEqualTo(200);
        }
        assertThat(prompts(ollama)).as("the first slot freed went to chat, ahead of batch's waiting high requests")
                .containsExactly("batch0", "batch1", "batch2", "chat", "batch3", "batch4");
        assertEverythingReturnedToZero(proxy, ollama);
    }

    @Test
    void aReloadWhoseReservesExceedTheSlotsIsRefusedAndAValidOneAppliesLive() throws Exception {
        FakeOllama ollama = fixture.ollama(fake());
        String yaml = "queue:\n  high: {reserved_slots: 1}\n";
        QueueProxy proxy = fixture.start(ollama, 2, yaml);
        Path file = dir.resolve("oqp.yaml");
        String full = yaml + "ollama:\n  hosts:\n    - name: gpu-1\n      url: " + ollama.baseUri()
                + "\n      max_concurrent: 2\nproxy:\n  drain_timeout: 1s\nlogging:\n  level: warn\n  access_log: false\n";
        Files.writeString(file, full);
        proxy.watch(file, Map.of());

        Files.writeString(file, full.replace("high: {reserved_slots: 1}",
                "high: {reserved_slots: 1}\n  normal: {reserved_slots: 2}"));
        Reload refused = proxy.reloadFile();
        assertThat(refused.applied()).isFalse();
        assertThat(refused.problems()).containsExactly("reserved slots: queue.high.reserved_slots 1"
                + " + queue.normal.reserved_slots 2 = 3 (expected: at most the 2 slots of the fleet, the sum of"
                + " ollama.hosts[].max_concurrent)");
        assertThat(status(proxy).path("reserves").path("normal").path("reserved").asInt()).isZero();

        Files.writeString(file, full.replace("high: {reserved_slots: 1}", "high: {reserved_slots: 2, borrow: 0}"));
        Reload applied = proxy.reloadFile();
        assertThat(applied.applied()).as(String.valueOf(applied.problems())).isTrue();
        assertThat(status(proxy).path("reserves").path("high").path("reserved").asInt()).isEqualTo(2);
        // Both slots kept for high now: a low request waits, a high one passes.
        URI generate = base(proxy).resolve("/api/generate");
        CompletableFuture<HttpResponse<String>> low = fixture.sendAsync(post(generate, gen("low", 1),
                "X-Queue-Priority", "low"));
        soon().untilAsserted(() -> assertThat(proxy.scheduler().snapshot().depth()).containsEntry(Tier.LOW, 1));
        assertThat(fixture.send(post(generate, gen("high", 1), "X-Queue-Priority", "high")).statusCode()).isEqualTo(200);
        assertThat(low.isDone()).isFalse();
        low.cancel(true);
    }

    // ---- helpers ----

    private static FakeOllama.Builder fake() {
        return FakeOllama.builder().installed("llama3:latest").tokens(Collections.nCopies(200, " t"))
                .tokenDelay(TOKEN_DELAY);
    }

    /** A non-streamed generate whose upstream work is {@code tokens} × the fake's token delay. */
    private static String gen(String prompt, int tokens) {
        return "{\"model\":\"llama3\",\"prompt\":\"" + prompt + "\",\"stream\":false,\"options\":{\"num_predict\":"
                + tokens + "}}";
    }

    private static String bearer(String key) {
        return "Bearer " + key;
    }

    private static List<String> prompts(FakeOllama ollama) {
        return ollama.requests().stream().filter(r -> r.method().equals("POST"))
                .map(r -> r.bodyJson().path("prompt").asText()).toList();
    }

    private JsonNode status(QueueProxy proxy) throws Exception {
        HttpResponse<String> r = fixture.send(get(base(proxy).resolve("/queue/status")));
        assertThat(r.statusCode()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    private String metrics(QueueProxy proxy) throws Exception {
        return fixture.send(get(base(proxy).resolve("/metrics"))).body();
    }

    private static void assertEverythingReturnedToZero(QueueProxy proxy, FakeOllama ollama) {
        soon().untilAsserted(() -> {
            assertThat(proxy.scheduler().snapshot().totalDepth()).as("queued").isZero();
            assertThat(proxy.scheduler().snapshot().inFlight()).as("leases").isZero();
            assertThat(proxy.pool().inFlight()).as("global slots").isZero();
            assertThat(proxy.pool().clientsInFlight()).isEmpty();
            assertThat(ollama.inFlight()).isZero();
        });
    }

    private static ConditionFactory soon() {
        return await().atMost(WAIT).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(2));
    }

    private static HttpResponse<String> done(CompletableFuture<HttpResponse<String>> response) throws Exception {
        return response.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }
}
