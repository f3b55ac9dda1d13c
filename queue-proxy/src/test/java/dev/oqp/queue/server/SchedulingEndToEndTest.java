package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.get;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.config.Tier;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.Fault;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.common.testing.TestSockets;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.scheduler.Snapshot;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The queue's scheduling seen from the outside (pipeline steps 7, 8 and 11): a real client, the proxy started from
 * YAML and a fake Ollama, all on loopback. Every ordering claim is checked on what the fake received and when
 * ({@link RecordedRequest#receivedNanos()}); requests are told apart by their prompt.
 *
 * <p>The length of each upstream exchange is chosen per request with {@code options.num_predict}: the fake emits
 * that many tokens, {@link #TOKEN_DELAY} apart (a non-streamed answer waits for all of them), so a "blocker" holds
 * the slot for a known time while the requests under test are short.
 */
class SchedulingEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final Duration TOKEN_DELAY = Duration.ofMillis(10);
    private static final List<String> TOKENS = Collections.nCopies(200, " t");

    private static final String KEY_ALICE = "alice-key-0123456789abcdef";
    private static final String KEY_BOB = "bob-key-0123456789abcdef";
    private static final String KEY_CAROL = "carol-key-0123456789abcdef";
    private static final String KEY_BATCH = "batch-key-0123456789abcdef";
    private static final String KEY_CHAT = "chat-key-0123456789abcdef";
    private static final String KEY_CAPPED = "capped-key-0123456789abcdef";
    private static final String KEY_OTHER = "other-key-0123456789abcdef";
    private static final String KEY_SOLO = "solo-key-0123456789abcdef";

    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    /** Priority tiers, ceilings and turns between clients. */
    @Nested
    class Ordering {
        @Test
        void highIsServedBeforeEarlierQueuedNormalAndLow() throws Exception {
            FakeOllama ollama = fixture.ollama(fake(TOKEN_DELAY));
            QueueProxy proxy = fixture.start(ollama, 1, "");
            URI generate = base(proxy).resolve("/api/generate");

            var blocker = fixture.sendAsync(post(generate, gen("blocker", 60)));
            ollama.awaitRequests(1, WAIT);
            var low = fixture.sendAsync(post(generate, gen("low", 2), "X-Queue-Priority", "low"));
            awaitDepth(proxy, 1);
            var normal = fixture.sendAsync(post(generate, gen("normal", 2), "X-Queue-Priority", "normal"));
            awaitDepth(proxy, 2);
            var high = fixture.sendAsync(post(generate, gen("high", 2), "X-Queue-Priority", "high"));
            awaitDepth(proxy, 3);

            assertThat(done(blocker).statusCode()).isEqualTo(200);
            HttpResponse<String> highResponse = done(high);
            HttpResponse<String> lowResponse = done(low);
            assertThat(List.of(highResponse, done(normal), lowResponse)).extracting(HttpResponse::statusCode)
                    .containsOnly(200);
            assertThat(prompts(ollama)).containsExactly("blocker", "high", "normal", "low");
            assertThat(highResponse.headers().firstValue("X-Queue-Priority")).hasValue("high");
            assertThat(lowResponse.headers().firstValue("X-Queue-Priority")).hasValue("low");
            // Waits are measured to dispatch: the low request waited for the high and normal ones too.
            assertThat(waitMillis(lowResponse)).isGreaterThan(waitMillis(highResponse));
        }

        @Test
        void lowCeilingKeyAskingForHighIsServedAsLow() throws Exception {
            FakeOllama ollama = fixture.ollama(fake(TOKEN_DELAY));
            QueueProxy proxy = fixture.start(ollama, 1, """
                    auth:
                      keys:
                        - client_id: batch
                          key: %s
                          max_priority: low
                        - client_id: chat
                          key: %s
                    """.formatted(KEY_BATCH, KEY_CHAT));
            URI generate = base(proxy).resolve("/api/generate");

            var blocker = fixture.sendAsync(post(generate, gen("blocker", 60), "Authorization", bearer(KEY_CHAT)));
            ollama.awaitRequests(1, WAIT);
            var batch = fixture.sendAsync(post(generate, gen("batch-asks-high", 2), "Authorization", bearer(KEY_BATCH),
                    "X-Queue-Priority", "high"));
            awaitDepth(proxy, 1);
            assertThat(proxy.scheduler().snapshot().depth()).containsEntry(Tier.LOW, 1).containsEntry(Tier.HIGH, 0);
            var chat = fixture.sendAsync(post(generate, gen("chat-normal-later", 2), "Authorization", bearer(KEY_CHAT)));
            awaitDepth(proxy, 2);

            assertThat(done(blocker).statusCode()).isEqualTo(200);
            HttpResponse<String> batchResponse = done(batch);
            HttpResponse<String> chatResponse = done(chat);
            assertThat(batchResponse.statusCode()).isEqualTo(200);
            assertThat(batchResponse.headers().firstValue("X-Queue-Priority")).hasValue("low");
            assertThat(chatResponse.headers().firstValue("X-Queue-Priority")).hasValue("normal");
            assertThat(prompts(ollama)).containsExactly("blocker", "chat-normal-later", "batch-asks-high");
            assertThat(ollama.requests().get(2).header("X-Queue-Priority")).isNull();
        }

        @Test
        void twoClientsAlternateWithinATier() throws Exception {
            FakeOllama ollama = fixture.ollama(fake(TOKEN_DELAY));
            QueueProxy proxy = fixture.start(ollama, 1, """
                    auth:
                      keys:
                        - client_id: alice
                          key: %s
                        - client_id: bob
                          key: %s
                        - client_id: carol
                          key: %s
                    """.formatted(KEY_ALICE, KEY_BOB, KEY_CAROL));
            URI generate = base(proxy).resolve("/api/generate");

            // The blocker belongs to a third client: alice and bob both start as never served, so the tie goes to the
            // client whose oldest ticket is older (alice), then they alternate.
            var blocker = fixture.sendAsync(post(generate, gen("blocker", 60), "Authorization", bearer(KEY_CAROL)));
            ollama.awaitRequests(1, WAIT);
            List<CompletableFuture<HttpResponse<String>>> queued = new ArrayList<>();
            int depth = 0;
            for (String[] client : new String[][] {{"a", KEY_ALICE}, {"b", KEY_BOB}}) {
                for (int i = 1; i <= 3; i++) {
                    queued.add(fixture.sendAsync(post(generate, gen(client[0] + i, 2), "Authorization", bearer(client[1]))));
                    awaitDepth(proxy, ++depth);
                }
            }

            assertThat(done(blocker).statusCode()).isEqualTo(200);
            for (var response : queued) {
                assertThat(done(response).statusCode()).isEqualTo(200);
            }
            List<RecordedRequest> received = ollama.requests();
            assertThat(prompts(ollama)).containsExactly("blocker", "a1", "b1", "a2", "b2", "a3", "b3");
            assertThat(received).extracting(r -> r.header("X-Client-ID"))
                    .containsExactly("carol", "alice", "bob", "alice", "bob", "alice", "bob");
        }
    }

    /** Per-client caps, also on an injection port. */
    @Nested
    class ClientCaps {
        @Test
        void clientCappedAtOneNeverHasTwoInFlightAndOthersAreNotStuckBehindIt() throws Exception {
            FakeOllama ollama = fixture.ollama(fake(TOKEN_DELAY));
            QueueProxy proxy = fixture.start(ollama, 2, """
                    auth:
                      keys:
                        - client_id: capped
                          key: %s
                          max_concurrent: 1
                        - client_id: other
                          key: %s
                    """.formatted(KEY_CAPPED, KEY_OTHER));
            URI generate = base(proxy).resolve("/api/generate");
            List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();

            // c1 holds one of the two slots for 2 s (long enough for a loaded machine to queue the rest behind it);
            // c2..c10 wait for the capped client's only slot.
            all.add(fixture.sendAsync(post(generate, gen("c1", 200), "Authorization", bearer(KEY_CAPPED))));
            ollama.awaitRequests(1, WAIT);
            for (int i = 2; i <= 10; i++) {
                all.add(fixture.sendAsync(post(generate, gen("c" + i, 2), "Authorization", bearer(KEY_CAPPED))));
                int queued = i - 1;
                // One at a time, so that submit order (what FIFO per client refers to) is c2..c10.
                awaitUntil(() -> proxy.scheduler().snapshot().queuedPerClient().getOrDefault("capped", 0) == queued);
            }
            // o1 takes the free slot. Once it has been served, "other" was served more recently than "capped",
            // so "capped" comes first in the rotation when o1's slot frees: it must be skipped, not waited for.
            all.add(fixture.sendAsync(post(generate, gen("o1", 10), "Authorization", bearer(KEY_OTHER))));
            ollama.awaitRequests(2, WAIT);
            all.add(fixture.sendAsync(post(generate, gen("o2", 10), "Authorization", bearer(KEY_OTHER))));
            all.add(fixture.sendAsync(post(generate, gen("o3", 10), "Authorization", bearer(KEY_OTHER))));
            awaitUntil(() -> proxy.scheduler().snapshot().queuedPerClient().getOrDefault("other", 0) == 2);

            for (var response : all) {
                assertThat(done(response).statusCode()).isEqualTo(200);
            }
            List<RecordedRequest> received = finished(ollama, 13);
            Map<String, RecordedRequest> byPrompt = received.stream()
                    .collect(Collectors.toMap(SchedulingEndToEndTest::prompt, r -> r));
            long c1Ends = lastLineWrite(byPrompt.get("c1"));
            assertThat(byPrompt.get("o2").receivedNanos()).as("o2 started while c1 still ran").isLessThan(c1Ends);
            assertThat(byPrompt.get("o3").receivedNanos()).as("o3 started while c1 still ran").isLessThan(c1Ends);
            assertThat(millis(byPrompt.get("o2").receivedNanos() - lastLineWrite(byPrompt.get("o1"))))
                    .as("o2 started promptly once o1's slot freed").isLessThan(300);
            assertThat(prompts(ollama).stream().filter(p -> p.startsWith("c")))
                    .containsExactly("c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10");
            assertNeverTwoAtOnce(byClient(received, "capped"));
            soon().untilAsserted(() -> assertThat(proxy.pool().clientInFlight("capped")).isZero());
        }

        @Test
        void injectionPortAppliesItsClientsCeilingAndCap() throws Exception {
            FakeOllama ollama = fixture.ollama(fake(TOKEN_DELAY));
            int port = QueueFixture.PLACEHOLDER_PORT;
            QueueProxy proxy = fixture.start(ollama, 2, """
                    auth:
                      keys:
                        - client_id: batch
                          key: %s
                          max_priority: low
                          max_concurrent: 1
                        - client_id: chat
                          key: %s
                    services:
                      - name: batch-port
                        listen: %d
                        client: batch
                    """.formatted(KEY_BATCH, KEY_CHAT, port));
            URI batchGenerate = QueueFixture.base(proxy, "batch-port").resolve("/api/generate");

            List<CompletableFuture<HttpResponse<String>>> batch = new ArrayList<>();
            batch.add(fixture.sendAsync(post(batchGenerate, gen("p1", 10))));
            ollama.awaitRequests(1, WAIT);
            batch.add(fixture.sendAsync(post(batchGenerate, gen("p2", 10))));
            batch.add(fixture.sendAsync(post(batchGenerate, gen("p3", 10), "X-Queue-Priority", "high")));
            batch.add(fixture.sendAsync(post(batchGenerate, gen("p4", 10), "X-Queue-Priority", "high")));
            awaitDepth(proxy, 3);
            Snapshot snapshot = proxy.scheduler().snapshot();
            assertThat(snapshot.depth()).containsEntry(Tier.LOW, 3);
            assertThat(snapshot.queuedPerClient()).containsExactly(Map.entry("batch", 3));
            // The second host slot is free: the port's client is held by its own cap, not by the host.
            HttpResponse<String> chat = fixture.send(post(base(proxy).resolve("/api/generate"), gen("chat", 2),
                    "Authorization", bearer(KEY_CHAT)));
            assertThat(chat.statusCode()).isEqualTo(200);
            assertThat(chat.headers().firstValue("X-Queue-Wait-Time")).hasValue("0");

            for (var response : batch) {
                HttpResponse<String> r = done(response);
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(r.headers().firstValue("X-Queue-Priority")).hasValue("low");
            }
            List<RecordedRequest> fromBatch = byClient(finished(ollama, 5), "batch");
            assertThat(fromBatch).hasSize(4);
            assertThat(fromBatch).allSatisfy(r -> assertThat(r.header("X-Queue-Priority")).isNull());
            assertNeverTwoAtOnce(fromBatch);
        }
    }

    @Nested
    class Aging {
        @Test
        void agingLiftsAStarvedLowRequest() throws Exception {
            FakeOllama ollama = fixture.ollama(fake(TOKEN_DELAY));
            QueueProxy proxy = fixture.start(ollama, 1, "queue:\n  aging: 300ms\n");
            URI generate = base(proxy).resolve("/api/generate");
            List<CompletableFuture<HttpResponse<String>>> highs = new ArrayList<>();
            Map<String, Long> sentAt = new ConcurrentHashMap<>();
            int[] sent = {0};
            Runnable sendHigh = () -> {
                String name = "h" + (++sent[0]);
                sentAt.put(name, System.nanoTime());
                // The first holds the slot 300 ms, so that the next two and the low one are all queued behind it even
                // on a loaded machine (at 60 ms, h2 could start before the low one arrived: the depth never reached 3).
                int tokens = sent[0] == 1 ? 30 : 6;
                highs.add(fixture.sendAsync(post(generate, gen(name, tokens), "X-Queue-Priority", "high")));
            };

            sendHigh.run();
            ollama.awaitRequests(1, WAIT);
            sendHigh.run();
            sendHigh.run();
            awaitDepth(proxy, 2);
            long lowSent = System.nanoTime();
            sentAt.put("low", lowSent);
            var low = fixture.sendAsync(post(generate, gen("low", 6), "X-Queue-Priority", "low"));
            awaitDepth(proxy, 3);
            // A steady stream of high requests (60 ms each, one slot): at least 4 wait, until the low one is dispatched
            // or, if aging did not work, for long enough that the bounds below fail.
            long feedUntil = lowSent + TimeUnit.MILLISECONDS.toNanos(2000);
            while (System.nanoTime() < feedUntil) {
                Snapshot snapshot = proxy.scheduler().snapshot();
                if (snapshot.depth().get(Tier.LOW) == 0) {
                    break; // low was dispatched
                }
                if (snapshot.depth().get(Tier.HIGH) < 4) {
                    sendHigh.run();
                } else {
                    Thread.sleep(2);
                }
            }

            assertThat(done(low).statusCode()).isEqualTo(200);
            for (var response : highs) {
                assertThat(done(response).statusCode()).isEqualTo(200);
            }
            List<RecordedRequest> received = ollama.requests();
            RecordedRequest lowReceived = received.stream().filter(r -> prompt(r).equals("low")).findFirst().orElseThrow();
            long lowWaited = millis(lowReceived.receivedNanos() - lowSent);
            List<String> sentAfterLow = sentAt.entrySet().stream().filter(e -> e.getValue() > lowSent)
                    .map(Map.Entry::getKey).filter(name -> !name.equals("low")).toList();
            List<String> order = prompts(ollama);
            // low -> normal after 300 ms, -> high after 600 ms; high requests waited all along, so not before.
            assertThat(lowWaited).as("low waited two aging intervals; upstream order %s", order)
                    .isGreaterThanOrEqualTo(600);
            assertThat(lowWaited).as("low served at the first free slot once aged to high; upstream order %s", order)
                    .isLessThan(1400);
            int lowAt = order.indexOf("low");
            assertThat(order.subList(0, lowAt)).as("high requests sent after low were served first until it aged")
                    .containsAnyElementsOf(sentAfterLow);
            assertThat(order.subList(lowAt + 1, order.size())).as("high requests still waiting when low had aged")
                    .isNotEmpty().allMatch(sentAfterLow::contains);
        }
    }

    /** A full tier and the maximum wait. */
    @Nested
    class QueueLimits {
        @Test
        void fullTierAnswersTheConfiguredStatusWithRetryAfter() throws Exception {
            FakeOllama ollama = fixture.ollama(fake(TOKEN_DELAY));
            QueueProxy proxy = fixture.start(ollama, 1, """
                    queue:
                      overflow_status_code: 429
                      normal: {max_depth: 1, max_wait: 60s}
                    """);

            var blocker = fixture.sendAsync(post(base(proxy).resolve("/api/generate"), gen("blocker", 30)));
            ollama.awaitRequests(1, WAIT);
            var queued = fixture.sendAsync(post(base(proxy).resolve("/api/generate"), gen("queued", 2)));
            awaitDepth(proxy, 1);
            HttpResponse<String> ollamaShape = fixture.send(post(base(proxy).resolve("/api/generate"), gen("over", 2)));
            HttpResponse<String> openAiShape = fixture.send(post(base(proxy).resolve("/v1/chat/completions"),
                    "{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"over-v1\"}]}"));

            assertThat(ollamaShape.statusCode()).isEqualTo(429);
            assertThat(retryAfter(ollamaShape)).isGreaterThanOrEqualTo(1);
            assertThat(ollamaShape.headers().firstValue("X-Queue-Priority")).hasValue("normal");
            JsonNode ollamaError = JSON.readTree(ollamaShape.body()).get("error");
            assertThat(ollamaError.isTextual()).isTrue();
            assertThat(ollamaError.asText()).contains("queue full").contains("normal");
            assertThat(openAiShape.statusCode()).isEqualTo(429);
            assertThat(retryAfter(openAiShape)).isGreaterThanOrEqualTo(1);
            JsonNode openAiError = JSON.readTree(openAiShape.body()).get("error");
            assertThat(openAiError.get("message").asText()).contains("queue full");
            assertThat(openAiError.get("type").asText()).isEqualTo("rate_limit_error");
            assertThat(proxy.scheduler().snapshot().totalDepth()).isEqualTo(1);

            assertThat(done(blocker).statusCode()).isEqualTo(200);
            assertThat(done(queued).statusCode()).isEqualTo(200);
            assertThat(prompts(ollama)).containsExactly("blocker", "queued");
            assertThat(metrics(proxy)).contains("oqp_queue_rejected_total{reason=\"tier_full\",tier=\"normal\"} 2.0");
        }

        @Test
        void requestPastMaxWaitGets503AtItsDeadline() throws Exception {
            FakeOllama ollama = fixture.ollama(fake(TOKEN_DELAY));
            QueueProxy proxy = fixture.start(ollama, 1, "queue:\n  normal: {max_depth: 10, max_wait: 500ms}\n");
            URI generate = base(proxy).resolve("/api/generate");

            // The blocker outlasts the upper bound below: an expiry noticed only when the slot frees would be late.
            var blocker = fixture.sendAsync(post(generate, gen("blocker", 160)));
            ollama.awaitRequests(1, WAIT);
            long sent = System.nanoTime();
            HttpResponse<String> expired = fixture.send(post(generate, gen("expires", 2)));
            long tookMillis = millis(System.nanoTime() - sent);

            assertThat(expired.statusCode()).isEqualTo(503);
            assertThat(tookMillis).as("answered at its deadline").isBetween(500L, 1300L);
            assertThat(ollama.requests().get(0).finished()).as("the blocker still held the slot").isFalse();
            assertThat(retryAfter(expired)).isGreaterThanOrEqualTo(1);
            // The limit as configured: not rounded down to whole seconds ("0s").
            assertThat(JSON.readTree(expired.body()).get("error").asText())
                    .isEqualTo("waited in the queue longer than max_wait (500ms for priority normal)");
            assertThat(expired.headers().firstValue("X-Queue-Priority")).hasValue("normal");
            assertThat(proxy.scheduler().snapshot().totalDepth()).isZero();

            assertThat(done(blocker).statusCode()).isEqualTo(200);
            // FIFO: had the expired request still been queued, it would reach the upstream before this probe.
            assertThat(fixture.send(post(generate, gen("probe", 2))).statusCode()).isEqualTo(200);
            assertThat(prompts(ollama)).containsExactly("blocker", "probe");
            assertThat(metrics(proxy)).contains("oqp_queue_expired_total{tier=\"normal\"} 1.0");
        }
    }

    /** Clients that leave while queued or mid-stream. */
    @Nested
    class Disconnects {
        @Test
        void clientDisconnectWhileQueuedNeverReachesUpstreamAndFreesItsPlace() throws Exception {
            FakeOllama ollama = fixture.ollama(fake(TOKEN_DELAY));
            QueueProxy proxy = fixture.start(ollama, 1, "queue:\n  normal: {max_depth: 10, max_wait: 30s}\n");
            URI generate = base(proxy).resolve("/api/generate");

            var blocker = fixture.sendAsync(post(generate, gen("blocker", 100)));
            ollama.awaitRequests(1, WAIT);
            long closed;
            try (Socket socket = TestSockets.rawRequest(proxy.port(), "POST", "/api/generate", Map.of(), gen("leaves", 2))) {
                awaitDepth(proxy, 1);
                closed = System.nanoTime();
            }
            awaitDepth(proxy, 0);
            long removedMillis = millis(System.nanoTime() - closed);

            assertThat(removedMillis).as("removed at once, not when a slot frees").isLessThan(400);
            assertThat(ollama.requests().get(0).finished()).as("the blocker still held the slot").isFalse();
            assertThat(done(blocker).statusCode()).isEqualTo(200);
            // FIFO: had the request stayed queued, it would reach the upstream before this probe.
            assertThat(fixture.send(post(generate, gen("probe", 2))).statusCode()).isEqualTo(200);
            assertThat(prompts(ollama)).containsExactly("blocker", "probe");
            assertThat(metrics(proxy)).contains("oqp_queue_cancelled_total{tier=\"normal\"} 1.0");
            // Released from the completion callback, which may run just after the client has its answer.
            soon().untilAsserted(() -> assertThat(proxy.pool().inFlight()).isZero());
        }

        @Test
        void aClientSendingBytesWhileQueuedIsTreatedAsGoneAndNeverReachesUpstream() throws Exception {
            FakeOllama ollama = fixture.ollama(fake(TOKEN_DELAY));
            QueueProxy proxy = fixture.start(ollama, 1, "queue:\n  normal: {max_depth: 10, max_wait: 30s}\n");
            URI generate = base(proxy).resolve("/api/generate");

            var blocker = fixture.sendAsync(post(generate, gen("blocker", 100)));
            ollama.awaitRequests(1, WAIT);
            try (Socket socket = TestSockets.rawRequest(proxy.port(), "POST", "/api/generate",
                    Map.of("Connection", "keep-alive"), gen("pipelines", 2))) {
                awaitDepth(proxy, 1);
                socket.getOutputStream().write('G');
                socket.getOutputStream().flush();
                awaitDepth(proxy, 0);
                assertThat(ollama.requests().get(0).finished()).as("removed while the blocker held the slot").isFalse();
            }

            assertThat(done(blocker).statusCode()).isEqualTo(200);
            assertThat(fixture.send(post(generate, gen("probe", 2))).statusCode()).isEqualTo(200);
            assertThat(prompts(ollama)).containsExactly("blocker", "probe");
            // Released from the completion callback, which may run just after the client has its answer.
            soon().untilAsserted(() -> assertThat(proxy.pool().inFlight()).isZero());
        }

        @Test
        void clientDisconnectMidStreamFreesItsSlotAndTheNextQueuedRequestStarts() throws Exception {
            FakeOllama ollama = fixture.ollama(fake(TOKEN_DELAY));
            QueueProxy proxy = fixture.start(ollama, 1, "");

            long closed;
            CompletableFuture<HttpResponse<String>> next;
            try (Socket socket = TestSockets.rawRequest(proxy.port(), "POST", "/api/generate", Map.of(),
                    stream("long", 200))) {
                InputStream in = socket.getInputStream();
                assertThat(TestSockets.readUntil(in, "\"done\":false")).startsWith("HTTP/1.1 200");
                next = fixture.sendAsync(post(base(proxy).resolve("/api/generate"), stream("next", 3)));
                awaitDepth(proxy, 1);
                closed = System.nanoTime();
            }

            RecordedRequest first = ollama.awaitCancelled(0, WAIT);
            HttpResponse<String> nextResponse = done(next);
            assertThat(nextResponse.statusCode()).isEqualTo(200);
            assertThat(lastLine(nextResponse)).contains("\"done\":true");
            RecordedRequest second = ollama.requests().get(1);
            assertThat(prompt(second)).isEqualTo("next");
            assertThat(first.lineWriteNanos().size()).as("generation stopped early").isLessThan(100);
            assertThat(millis(first.cancelledNanos() - closed)).as("upstream cancelled promptly").isLessThan(500);
            assertThat(millis(second.receivedNanos() - closed)).as("next request started promptly").isLessThan(500);
            assertThat(second.receivedNanos()).isGreaterThan(first.receivedNanos());
        }
    }

    /** Mixed outcomes under load: every counter returns to zero. */
    @Nested
    class Storm {
        @Test
        void afterAStormOfMixedOutcomesEverySlotCounterReturnsToZero() throws Exception {
            FakeOllama ok = fixture.ollama(fake(Duration.ofMillis(5)));
            // Slow lines: gpu-reset stays busy ~400 ms before it resets a stream; meanwhile the next request goes to gpu-err.
            FakeOllama reset = fixture.ollama(fake(Duration.ofMillis(100)));
            FakeOllama err = fixture.ollama(fake(Duration.ofMillis(5)));
            QueueProxy proxy = fixture.start(ok, 0, """
                    auth:
                      rate_limit:
                        max_failures: 1000
                      keys:
                        - client_id: alice
                          key: %s
                          max_priority: high
                        - client_id: bob
                          key: %s
                          max_priority: high
                        - client_id: solo
                          key: %s
                          max_priority: low
                          max_concurrent: 1
                    queue:
                      overflow_status_code: 429
                      high: {max_depth: 3, max_wait: 2s}
                      normal: {max_depth: 6, max_wait: 2s}
                      low: {max_depth: 1, max_wait: 300ms}
                    routing:
                      strategy: least_busy    # spread by slots in use: the model being loaded on gpu-ok must not matter
                    ollama:
                      health_check_interval: 1h
                      hosts:
                        - name: gpu-ok
                          url: %s
                          max_concurrent: 2
                        - name: gpu-reset
                          url: %s
                          max_concurrent: 1
                        - name: gpu-err
                          url: %s
                          max_concurrent: 1
                    """.formatted(KEY_ALICE, KEY_BOB, KEY_SOLO, ok.baseUri(), reset.baseUri(), err.baseUri()));
            // The faults come after the first health checks (the next are an hour away): these hosts answer GET / but
            // fail requests, which is no reason to take them out of service.
            await().atMost(WAIT).until(() -> proxy.fleet().hosts().stream()
                    .allMatch(h -> h.health() == Host.Health.HEALTHY && h.inventory().syncedAt() != null));
            err.fault(Fault.status(500, "boom"));
            reset.fault(Fault.resetAfterLines(4));
            URI generate = base(proxy).resolve("/api/generate");
            List<CompletableFuture<String>> outcomes = new ArrayList<>();

            // solo: s0 runs 600 ms on gpu-ok (all hosts idle, first in config order); s1 waits for solo's only slot
            // and expires after 300 ms; s2 and s3 find the low tier full.
            outcomes.add(outcome(fixture.sendAsync(post(generate, stream("s0", 120), "Authorization", bearer(KEY_SOLO)))));
            ok.awaitRequests(1, WAIT);
            outcomes.add(outcome(fixture.sendAsync(post(generate, gen("s1", 2), "Authorization", bearer(KEY_SOLO)))));
            awaitDepth(proxy, 1);
            for (String name : List.of("s2", "s3")) {
                outcomes.add(outcome(fixture.sendAsync(post(generate, gen(name, 2), "Authorization", bearer(KEY_SOLO)))));
            }
            // r0 goes to gpu-reset (fewest in flight, then config order) and is reset mid-stream; e0, sent while r0
            // streams, goes to gpu-err and gets its 500.
            outcomes.add(outcome(fixture.sendAsync(post(generate, stream("r0", 5), "Authorization", bearer(KEY_ALICE)))));
            reset.awaitRequests(1, WAIT);
            outcomes.add(outcome(fixture.sendAsync(post(generate, gen("e0", 2), "Authorization", bearer(KEY_ALICE)))));
            err.awaitRequests(1, WAIT);
            // alice and bob: a burst in two tiers, streamed and not, spread over the good and the failing hosts.
            for (int i = 0; i < 10; i++) {
                for (String key : List.of(KEY_ALICE, KEY_BOB)) {
                    String body = i % 2 == 0 ? stream("burst" + i, 5) : gen("burst" + i, 2);
                    outcomes.add(outcome(fixture.sendAsync(post(generate, body, "Authorization", bearer(key),
                            "X-Queue-Priority", i % 3 == 0 ? "high" : "normal"))));
                }
            }
            for (int i = 0; i < 4; i++) {
                outcomes.add(outcome(fixture.sendAsync(post(generate, gen("bad-key", 2),
                        "Authorization", "Bearer not-a-key-at-all-xxxxxx"))));
            }
            // Clients that leave: at once (while authenticated, queued or in flight) or once the headers came.
            ExecutorService leavers = Executors.newFixedThreadPool(6);
            try {
                for (int i = 0; i < 6; i++) {
                    boolean readHeaders = i % 2 == 0;
                    String body = stream("leaver" + i, 20);
                    outcomes.add(CompletableFuture.supplyAsync(() -> {
                        try (Socket socket = TestSockets.rawRequest(proxy.port(), "POST", "/api/generate",
                                Map.of("Authorization", bearer(KEY_BOB)), body)) {
                            if (readHeaders) {
                                TestSockets.readUntil(socket.getInputStream(), "\r\n\r\n");
                            }
                            return "left";
                        } catch (Exception e) {
                            return "left:" + e.getClass().getSimpleName();
                        }
                    }, leavers));
                }
                CompletableFuture.allOf(outcomes.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
            } finally {
                leavers.shutdownNow();
            }

            List<String> seen = outcomes.stream().map(CompletableFuture::join).toList();
            assertThat(seen).as("outcomes %s", seen).contains("200", "200 error line", "401", "429", "500", "503 expired");
            assertThat(outcomes.get(0).join()).as("s0").isEqualTo("200");
            assertThat(outcomes.get(4).join()).as("r0").isEqualTo("200 error line");
            assertThat(outcomes.get(5).join()).as("e0").isEqualTo("500");
            assertEverythingReturnedToZero(proxy, List.of("alice", "bob", "solo"), List.of(ok, err, reset));

            // Still serving after the storm, and still balanced.
            err.fault(Fault.none());
            reset.fault(Fault.none());
            assertThat(fixture.send(post(generate, gen("after", 2), "Authorization", bearer(KEY_ALICE))).statusCode())
                    .isEqualTo(200);
            assertEverythingReturnedToZero(proxy, List.of("alice", "bob", "solo"), List.of(ok, err, reset));
        }
    }

    /** Shutdown with requests queued and in flight. */
    @Nested
    class Shutdown {
        @Test
        void shutdownAnswersQueuedRequests503WithRetryAfterAndLetsInFlightFinish() throws Exception {
            FakeOllama ollama = fixture.ollama(fake(Duration.ofMillis(50)));
            // The queue is flushed 0.5 s before drain_timeout, at 2.5 s: far after the ~1.2 s the work below needs.
            QueueProxy proxy = fixture.start(ollama, 1, "proxy:\n  drain_timeout: 3s\n");
            URI generate = base(proxy).resolve("/api/generate");

            var inFlight = fixture.sendAsync(post(generate, stream("in-flight", 20)));
            ollama.awaitRequests(1, WAIT);
            var q1 = fixture.sendAsync(post(generate, stream("q1", 2)));
            awaitDepth(proxy, 1);
            var q2 = fixture.sendAsync(post(generate, stream("q2", 2)));
            awaitDepth(proxy, 2);
            long stopStarted = System.nanoTime();
            CompletableFuture<Void> stopped = stopInBackground(proxy);
            soon().until(() -> !proxy.scheduler().snapshot().draining().isEmpty());
            assertThat(ollama.requests().get(0).finished()).as("the stream was in flight when the drain began").isFalse();
            assertThat(proxy.scheduler().snapshot().totalDepth()).as("still queued, not flushed").isEqualTo(2);
            HttpResponse<String> first = done(inFlight);
            assertThat(first.statusCode()).isEqualTo(200);
            assertThat(first.body().lines().count()).as("every token and the done line").isEqualTo(21);
            assertThat(lastLine(first)).contains("\"done\":true");
            // The queue keeps being dispatched while draining: both are served, each fully.
            for (var queued : List.of(q1, q2)) {
                HttpResponse<String> response = done(queued);
                assertThat(response.statusCode()).isEqualTo(200);
                assertThat(lastLine(response)).contains("\"done\":true");
            }
            stopped.get(5, TimeUnit.SECONDS);
            assertThat(millis(System.nanoTime() - stopStarted)).as("stop returns once the work is done")
                    .isLessThan(2500);
            assertThat(prompts(ollama)).containsExactly("in-flight", "q1", "q2");
        }

        @Test
        void shutdownThatCannotDrainTheQueueInTimeAnswersTheQueued503WithRetryAfter() throws Exception {
            FakeOllama ollama = fixture.ollama(fake(Duration.ofMillis(50)));
            QueueProxy proxy = fixture.start(ollama, 1, "proxy:\n  drain_timeout: 2s\n");
            URI generate = base(proxy).resolve("/api/generate");

            // 60 lines 50 ms apart: still streaming when the queue is flushed (drain_timeout - 0.5 s after the stop).
            var inFlight = fixture.sendAsync(post(generate, stream("in-flight", 60)));
            ollama.awaitRequests(1, WAIT);
            var q1 = fixture.sendAsync(post(generate, stream("q1", 3)));
            awaitDepth(proxy, 1);
            var q2 = fixture.sendAsync(post(QueueFixture.base(proxy).resolve("/v1/chat/completions"),
                    "{\"model\":\"llama3\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"q2\"}]}"));
            awaitDepth(proxy, 2);
            long stopStarted = System.nanoTime();
            CompletableFuture<Void> stopped = stopInBackground(proxy);

            HttpResponse<String> flushed = done(q1);
            long flushedAfter = millis(System.nanoTime() - stopStarted);
            HttpResponse<String> flushedOpenAi = done(q2);
            // The queued are answered; now let the in-flight stream finish well within drain_timeout.
            ollama.setTokenDelay(Duration.ZERO);
            assertThat(flushed.statusCode()).isEqualTo(503);
            assertThat(retryAfter(flushed)).isGreaterThanOrEqualTo(1);
            assertThat(JSON.readTree(flushed.body()).get("error").asText()).isEqualTo("server shutting down");
            assertThat(flushedAfter).as("answered shortly before drain_timeout, not at once").isBetween(1200L, 1950L);
            assertThat(flushedOpenAi.statusCode()).isEqualTo(503);
            assertThat(retryAfter(flushedOpenAi)).isGreaterThanOrEqualTo(1);
            assertThat(JSON.readTree(flushedOpenAi.body()).get("error").get("message").asText())
                    .isEqualTo("server shutting down");
            HttpResponse<String> first = done(inFlight);
            assertThat(first.statusCode()).isEqualTo(200);
            assertThat(first.body().lines().count()).as("every token and the done line").isEqualTo(61);
            assertThat(lastLine(first)).contains("\"done\":true");
            stopped.get(5, TimeUnit.SECONDS);
            assertThat(prompts(ollama)).containsExactly("in-flight");
        }
    }

    private static CompletableFuture<Void> stopInBackground(QueueProxy proxy) {
        return CompletableFuture.runAsync(() -> {
            try {
                proxy.stop();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static String lastLine(HttpResponse<String> response) {
        return response.body().lines().reduce((a, b) -> b).orElseThrow();
    }

    private static FakeOllama.Builder fake(Duration tokenDelay) {
        return FakeOllama.builder().installed("llama3:latest").tokens(TOKENS).tokenDelay(tokenDelay);
    }

    /** A non-streamed generate whose upstream work is {@code tokens} × the fake's token delay. */
    private static String gen(String prompt, int tokens) {
        return "{\"model\":\"llama3\",\"prompt\":\"" + prompt + "\",\"stream\":false,\"options\":{\"num_predict\":"
                + tokens + "}}";
    }

    /** A streamed generate of {@code tokens} lines plus the done line. */
    private static String stream(String prompt, int tokens) {
        return "{\"model\":\"llama3\",\"prompt\":\"" + prompt + "\",\"options\":{\"num_predict\":" + tokens + "}}";
    }

    private static String bearer(String key) {
        return "Bearer " + key;
    }

    /** The prompt of a generate, or the first message of a chat: what names a request in these tests. */
    private static String prompt(RecordedRequest r) {
        JsonNode body = r.bodyJson();
        return body.has("prompt") ? body.get("prompt").asText() : body.path("messages").path(0).path("content").asText();
    }

    /** The prompts of the inference requests the fake received, in arrival order. */
    private static List<String> prompts(FakeOllama ollama) {
        return ollama.requests().stream().filter(r -> r.method().equals("POST")).map(SchedulingEndToEndTest::prompt)
                .toList();
    }

    private static List<RecordedRequest> finished(FakeOllama ollama, int count) {
        List<RecordedRequest> received = ollama.awaitRequests(count, WAIT);
        received.forEach(r -> r.awaitFinished(WAIT));
        return received;
    }

    private static List<RecordedRequest> byClient(List<RecordedRequest> received, String clientId) {
        return received.stream().filter(r -> clientId.equals(r.header("X-Client-ID"))).toList();
    }

    /**
     * No request starts upstream before the previous one's last line was handed to the connection: the proxy
     * cannot have seen the end of a response before that, so this is an overlap whatever the threads do later
     * ({@code completedNanos} is stamped after the write completes, possibly after the next request arrived).
     */
    private static void assertNeverTwoAtOnce(List<RecordedRequest> records) {
        List<RecordedRequest> sorted = new ArrayList<>(records);
        sorted.sort(Comparator.comparingLong(RecordedRequest::receivedNanos));
        for (int i = 1; i < sorted.size(); i++) {
            RecordedRequest previous = sorted.get(i - 1);
            RecordedRequest current = sorted.get(i);
            assertThat(current.receivedNanos()).as("%s started before %s ended", prompt(current), prompt(previous))
                    .isGreaterThan(lastLineWrite(previous));
        }
    }

    private static long lastLineWrite(RecordedRequest r) {
        List<Long> lines = r.lineWriteNanos();
        assertThat(lines).as("lines written for %s", prompt(r)).isNotEmpty();
        return lines.get(lines.size() - 1);
    }

    private static ConditionFactory soon() {
        return await().atMost(WAIT).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(2));
    }

    private static void awaitUntil(Callable<Boolean> condition) {
        soon().until(condition);
    }

    private static void awaitDepth(QueueProxy proxy, int depth) {
        soon().untilAsserted(() -> assertThat(proxy.scheduler().snapshot().totalDepth()).as("queued requests")
                .isEqualTo(depth));
    }

    private static void assertEverythingReturnedToZero(QueueProxy proxy, List<String> clients, List<FakeOllama> fakes) {
        soon().untilAsserted(() -> {
            Snapshot snapshot = proxy.scheduler().snapshot();
            assertThat(snapshot.totalDepth()).as("queued").isZero();
            assertThat(snapshot.queuedBytes()).as("queued bytes").isZero();
            assertThat(snapshot.inFlight()).as("scheduler leases").isZero();
            assertThat(proxy.pool().inFlight()).as("global slots").isZero();
            for (String host : List.of("gpu-ok", "gpu-err", "gpu-reset")) {
                assertThat(proxy.pool().inFlight(host)).as("slots of %s", host).isZero();
            }
            for (String client : clients) {
                assertThat(proxy.pool().clientInFlight(client)).as("slots of %s", client).isZero();
            }
            assertThat(proxy.pool().clientsInFlight()).isEmpty();
            for (FakeOllama fake : fakes) {
                assertThat(fake.inFlight()).as("in flight at %s", fake).isZero();
            }
        });
    }

    /**
     * The status as text, "200 error line" for a stream that ended with an in-stream error (the upstream reset it),
     * "503 expired" for an expiry, or the failure's class name.
     */
    private static CompletableFuture<String> outcome(CompletableFuture<HttpResponse<String>> response) {
        return response.handle((r, failure) -> {
            if (r == null) {
                return failure.getClass().getSimpleName();
            }
            if (r.statusCode() == 200 && r.body().contains("{\"error\":")) {
                return "200 error line";
            }
            return r.statusCode() == 503 && r.body().contains("max_wait") ? "503 expired" : Integer.toString(r.statusCode());
        });
    }

    private static HttpResponse<String> done(CompletableFuture<HttpResponse<String>> response) throws Exception {
        return response.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static long retryAfter(HttpResponse<String> response) {
        return Long.parseLong(response.headers().firstValue("Retry-After").orElseThrow());
    }

    private static long waitMillis(HttpResponse<String> response) {
        return Long.parseLong(response.headers().firstValue("X-Queue-Wait-Time").orElseThrow());
    }

    private static long millis(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }

    private String metrics(QueueProxy proxy) throws Exception {
        HttpResponse<String> response = fixture.send(get(base(proxy).resolve("/metrics")));
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }
}
