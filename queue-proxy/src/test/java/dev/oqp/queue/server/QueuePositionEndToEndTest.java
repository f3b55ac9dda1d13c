package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
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
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.queue.scheduler.Snapshot;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Where a queued request stands, seen from the outside: {@code X-Queue-Position}, {@code GET /queue/requests/{id}}
 * (own requests only), the {@code waiters} of {@code /queue/status}, {@code oqp_queue_position}, and
 * {@code X-Queue-Max-Wait} refused at admission or at its deadline. A real client, the proxy from YAML and a fake
 * Ollama whose answers take {@code num_predict} × {@link #TOKEN_DELAY}, all on loopback.
 */
class QueuePositionEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final Duration TOKEN_DELAY = Duration.ofMillis(10);
    private static final String KEY_ALICE = "alice-key-0123456789abcdef";
    private static final String KEY_BOB = "bob-key-0123456789abcdef";
    private static final String KEY_OPS = "ops-key-0123456789abcdef";
    private static final String KEYS = """
            auth:
              keys:
                - {client_id: alice, key: %s}
                - {client_id: bob, key: %s}
                - {client_id: ops, key: %s, scope: management}
            """.formatted(KEY_ALICE, KEY_BOB, KEY_OPS);

    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    @Test
    void threeQueuedRequestsReportPlacesOneTwoThreeAndTheEndpointFollowsEachToDispatch() throws Exception {
        FakeOllama ollama = fixture.ollama(fake());
        QueueProxy proxy = fixture.start(ollama, 1, KEYS);
        URI generate = base(proxy).resolve("/api/generate");

        // One slot, held by a long stream of another client.
        var blocker = fixture.sendAsync(post(generate, stream("blocker", 300), "Authorization", bearer(KEY_OPS)));
        ollama.awaitRequests(1, WAIT);
        List<String> ids = List.of("q-1", "q-2", "q-3");
        List<CompletableFuture<HttpResponse<String>>> queued = new ArrayList<>();
        for (int i = 0; i < ids.size(); i++) {
            queued.add(fixture.sendAsync(post(generate, gen(ids.get(i), 60), "Authorization", bearer(KEY_ALICE),
                    "X-Request-ID", ids.get(i))));
            awaitDepth(proxy, i + 1);
        }

        // While all three wait: their places, live, for their own client.
        for (int i = 0; i < ids.size(); i++) {
            JsonNode standing = json(request(proxy, ids.get(i), KEY_ALICE), 200);
            assertThat(standing.get("state").asText()).isEqualTo("queued");
            assertThat(standing.get("position").asInt()).isEqualTo(i + 1);
            assertThat(standing.get("tier").asText()).isEqualTo("normal");
            assertThat(standing.get("effective_tier").asText()).isEqualTo("normal");
            assertThat(standing.get("position_at_admission").asInt()).isEqualTo(i + 1);
            // No service time measured yet: 10 s per request assumed, one slot.
            assertThat(standing.get("eta_ms").asLong()).isEqualTo((i + 1) * 10_000L);
            assertThat(standing.get("waited_ms").asLong()).isNotNegative();
            assertThat(standing.has("prompt")).isFalse();
        }
        // Another client learns nothing: its answer is the unknown id's, byte for byte.
        HttpResponse<String> foreign = request(proxy, "q-2", KEY_BOB);
        HttpResponse<String> unknown = request(proxy, "no-such-id", KEY_BOB);
        assertThat(foreign.statusCode()).isEqualTo(404);
        assertThat(foreign.body()).isEqualTo(unknown.body());
        assertThat(json(request(proxy, "q-2", KEY_OPS), 200).get("position").asInt()).as("management sees any")
                .isEqualTo(2);
        // The status lists the waiters by place: all of them for management, only its own for another client.
        JsonNode status = json(fixture.send(get(base(proxy).resolve("/queue/status"), "Authorization",
                bearer(KEY_OPS))), 200);
        assertThat(status.get("waiters_total").asInt()).isEqualTo(3);
        assertThat(status.get("waiters").findValuesAsText("request_id")).containsExactly("q-1", "q-2", "q-3");
        assertThat(status.get("waiters").findValuesAsText("client_id")).containsOnly("alice");
        assertThat(status.get("waiters").findValues("position")).extracting(JsonNode::asInt).containsExactly(1, 2, 3);
        assertThat(status.get("waiters").toString()).doesNotContain("prompt");
        JsonNode bobs = json(fixture.send(get(base(proxy).resolve("/queue/status"), "Authorization",
                bearer(KEY_BOB))), 200);
        assertThat(bobs.get("waiters").size()).isZero();
        assertThat(bobs.get("waiters_total").asInt()).isZero();

        // Follow each until it ends: its place falls, then it is dispatched, then forgotten.
        Map<String, List<String>> seen = new ConcurrentHashMap<>();
        CompletableFuture<Void> all = CompletableFuture.allOf(queued.toArray(CompletableFuture[]::new));
        await().atMost(Duration.ofSeconds(30)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(5)).until(() -> {
            for (String id : ids) {
                HttpResponse<String> r = request(proxy, id, KEY_ALICE);
                String state = r.statusCode() == 404 ? "gone" : describe(JSON.readTree(r.body()));
                List<String> list = seen.computeIfAbsent(id, k -> Collections.synchronizedList(new ArrayList<>()));
                if (list.isEmpty() || !list.get(list.size() - 1).equals(state)) {
                    list.add(state);
                }
            }
            return all.isDone();
        });
        System.out.println("[queue position] observed: " + seen);
        assertThat(done(blocker).statusCode()).isEqualTo(200);
        for (int i = 0; i < ids.size(); i++) {
            HttpResponse<String> r = done(queued.get(i));
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("X-Queue-Position")).hasValue(Integer.toString(i + 1));
            assertThat(json(request(proxy, ids.get(i), KEY_ALICE), 404).get("error").asText()).isNotEmpty();
        }
        assertThat(seen.get("q-1")).containsSubsequence("queued 1", "dispatched");
        assertThat(seen.get("q-2")).containsSubsequence("queued 2", "queued 1", "dispatched");
        assertThat(seen.get("q-3")).containsSubsequence("queued 3", "queued 2", "queued 1", "dispatched");
        for (String id : ids) {
            List<String> places = seen.get(id).stream().filter(s -> s.startsWith("queued")).toList();
            assertThat(places).as("%s only moves forward", id).isSortedAccordingTo(Collections.reverseOrder());
        }
        String metrics = metrics(proxy);
        assertThat(sample(metrics, "oqp_queue_position_count{tier=\"normal\"}")).isEqualTo(3);
        assertThat(sample(metrics, "oqp_queue_position_sum{tier=\"normal\"}")).isEqualTo(6);
        assertNothingLeft(proxy, ollama);
    }

    @Test
    void aMaxWaitOfOneSecondBehindATenSecondQueueIsRefusedAtOnceWithAnHonestRetryAfter() throws Exception {
        FakeOllama ollama = fixture.ollama(fake());
        QueueProxy proxy = fixture.start(ollama, 1, KEYS);
        URI generate = base(proxy).resolve("/api/generate");
        var blocker = fixture.sendAsync(post(generate, stream("blocker", 200), "Authorization", bearer(KEY_OPS)));
        ollama.awaitRequests(1, WAIT);
        // A warm connection, as a client that already talks to the proxy has: the figure is the queue's answer time.
        assertThat(fixture.send(get(base(proxy).resolve("/queue/summary"), "Authorization", bearer(KEY_ALICE)))
                .statusCode()).isEqualTo(200);

        // Nothing measured yet: 10 s per request assumed on one slot, so the next place is 10 s away.
        List<Long> times = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            long start = System.nanoTime();
            HttpResponse<String> refused = fixture.send(post(generate, gen("hurried", 2), "Authorization",
                    bearer(KEY_ALICE), "X-Queue-Max-Wait", "1s", "X-Request-ID", "hurried"));
            long micros = TimeUnit.NANOSECONDS.toMicros(System.nanoTime() - start);
            times.add(micros);
            assertThat(refused.statusCode()).isEqualTo(503);
            assertThat(micros).as("answered at once, not after a wait").isLessThan(1_000_000);
            assertThat(refused.headers().firstValue("Retry-After")).hasValue("10");
            assertThat(json(refused, 503).get("error").asText()).contains("X-Queue-Max-Wait (1s)");
            assertThat(refused.headers().firstValue("X-Queue-Priority")).hasValue("normal");
        }
        System.out.println("[queue deadline] X-Queue-Max-Wait: 1s behind a 10 s queue: 503, Retry-After 10, answered in "
                + times.stream().map(us -> String.format(Locale.ROOT, "%.1f ms", us / 1000.0)).toList()
                + " (first request of its kind, then four more)");
        String metrics = metrics(proxy);
        assertThat(sample(metrics, "oqp_queue_rejected_total{reason=\"deadline\",tier=\"normal\"}")).isEqualTo(5);
        assertThat(sample(metrics, "oqp_queue_position_count{tier=\"normal\"}")).as("never queued").isZero();
        assertThat(json(request(proxy, "hurried", KEY_ALICE), 404)).isNotNull();
        // A limit the queue can keep is queued and served as usual.
        HttpResponse<String> patient = fixture.send(post(generate, gen("patient", 2), "Authorization",
                bearer(KEY_ALICE), "X-Queue-Max-Wait", "20s"));
        assertThat(patient.statusCode()).isEqualTo(200);
        assertThat(done(blocker).statusCode()).isEqualTo(200);
        assertThat(ollama.requests()).extracting(r -> r.bodyJson().path("prompt").asText())
                .containsExactly("blocker", "patient");
        assertThat(ollama.requests().get(1).header("X-Queue-Max-Wait")).as("never sent upstream").isNull();
        assertNothingLeft(proxy, ollama);
    }

    @Test
    void aRequestStillWaitingAtItsOwnMaxWaitIsAnsweredAsADeadlineNotAnExpiry() throws Exception {
        FakeOllama ollama = fixture.ollama(fake());
        QueueProxy proxy = fixture.start(ollama, 1, KEYS + "queue:\n  overflow_status_code: 429\n");
        URI generate = base(proxy).resolve("/api/generate");
        // A measured service time of a few ms: the prediction for the next place is well under the limit below.
        assertThat(fixture.send(post(generate, gen("primer", 1), "Authorization", bearer(KEY_OPS))).statusCode())
                .isEqualTo(200);
        var blocker = fixture.sendAsync(post(generate, stream("blocker", 300), "Authorization", bearer(KEY_OPS)));
        ollama.awaitRequests(2, WAIT);

        long start = System.nanoTime();
        var late = fixture.sendAsync(post(generate, gen("late", 2), "Authorization", bearer(KEY_ALICE),
                "X-Queue-Max-Wait", "600ms", "X-Request-ID", "late"));
        awaitDepth(proxy, 1);
        JsonNode standing = json(request(proxy, "late", KEY_ALICE), 200);
        assertThat(standing.get("state").asText()).isEqualTo("queued");
        assertThat(standing.get("eta_ms").asLong()).isLessThan(600);
        HttpResponse<String> missed = done(late);
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        System.out.println("[queue deadline] X-Queue-Max-Wait: 600ms, admitted, answered " + missed.statusCode()
                + " after " + millis + " ms");

        assertThat(missed.statusCode()).as("the overflow status").isEqualTo(429);
        assertThat(millis).isGreaterThanOrEqualTo(600);
        assertThat(json(missed, 429).get("error").asText()).contains("waited its X-Queue-Max-Wait (600ms)");
        assertThat(missed.headers().firstValue("Retry-After")).hasValue("1");
        String metrics = metrics(proxy);
        assertThat(sample(metrics, "oqp_queue_rejected_total{reason=\"deadline\",tier=\"normal\"}")).isEqualTo(1);
        assertThat(sample(metrics, "oqp_queue_expired_total{tier=\"normal\"}")).isZero();
        assertThat(sample(metrics, "oqp_queue_position_count{tier=\"normal\"}")).isEqualTo(1);
        assertThat(done(blocker).statusCode()).isEqualTo(200);
        assertThat(ollama.requests()).extracting(r -> r.bodyJson().path("prompt").asText())
                .containsExactly("primer", "blocker");
        assertNothingLeft(proxy, ollama);
    }

    @Test
    void anInvalidMaxWaitIsRefused400InTheRoutesShape() throws Exception {
        FakeOllama ollama = fixture.ollama(fake());
        QueueProxy proxy = fixture.start(ollama, 1, KEYS);
        for (String value : List.of("soon", "-5s", "1.5s", "30 s")) {
            HttpResponse<String> r = fixture.send(post(base(proxy).resolve("/api/generate"), gen("bad", 1),
                    "Authorization", bearer(KEY_ALICE), "X-Queue-Max-Wait", value));
            assertThat(r.statusCode()).as(value).isEqualTo(400);
            assertThat(json(r, 400).get("error").asText()).startsWith("X-Queue-Max-Wait must be a duration");
        }
        HttpResponse<String> openai = fixture.send(post(base(proxy).resolve("/v1/chat/completions"),
                "{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "Authorization", bearer(KEY_ALICE), "X-Queue-Max-Wait", "forever"));
        assertThat(openai.statusCode()).isEqualTo(400);
        assertThat(json(openai, 400).path("error").path("message").asText()).startsWith("X-Queue-Max-Wait");
        for (String value : List.of("1500ms", "2m", "30", "0s")) {
            assertThat(fixture.send(post(base(proxy).resolve("/api/generate"), gen("ok", 1), "Authorization",
                    bearer(KEY_ALICE), "X-Queue-Max-Wait", value)).statusCode()).as(value).isEqualTo(200);
        }
        assertThat(ollama.requests()).extracting(r -> r.bodyJson().path("prompt").asText()).containsOnly("ok");
    }

    // ---- helpers ----

    private HttpResponse<String> request(QueueProxy proxy, String id, String key) throws Exception {
        return fixture.send(get(base(proxy).resolve("/queue/requests/" + id), "Authorization", bearer(key)));
    }

    /** "queued N" with its live place, or the state. */
    private static String describe(JsonNode standing) {
        String state = standing.get("state").asText();
        return "queued".equals(state) ? "queued " + standing.get("position").asInt() : state;
    }

    private static JsonNode json(HttpResponse<String> response, int status) throws Exception {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        return JSON.readTree(response.body());
    }

    private String metrics(QueueProxy proxy) throws Exception {
        HttpResponse<String> response = fixture.send(get(base(proxy).resolve("/metrics"), "Authorization",
                bearer(KEY_OPS)));
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }

    /** The value of the sample {@code series} (name and labels as written), or 0 when absent. */
    private static double sample(String metrics, String series) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(metrics);
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }

    private static void assertNothingLeft(QueueProxy proxy, FakeOllama ollama) {
        soon().untilAsserted(() -> {
            Snapshot snapshot = proxy.scheduler().snapshot();
            assertThat(snapshot.totalDepth()).as("queued").isZero();
            assertThat(snapshot.inFlight()).as("scheduler leases").isZero();
            assertThat(proxy.pool().inFlight()).as("global slots").isZero();
            assertThat(proxy.pool().clientsInFlight()).isEmpty();
            assertThat(ollama.inFlight()).isZero();
        });
    }

    private static FakeOllama.Builder fake() {
        return FakeOllama.builder().installed("llama3:latest").tokens(Collections.nCopies(400, " t"))
                .tokenDelay(TOKEN_DELAY);
    }

    private static String gen(String prompt, int tokens) {
        return "{\"model\":\"llama3\",\"prompt\":\"" + prompt + "\",\"stream\":false,\"options\":{\"num_predict\":"
                + tokens + "}}";
    }

    private static String stream(String prompt, int tokens) {
        return "{\"model\":\"llama3\",\"prompt\":\"" + prompt + "\",\"options\":{\"num_predict\":" + tokens + "}}";
    }

    private static String bearer(String key) {
        return "Bearer " + key;
    }

    private static ConditionFactory soon() {
        return await().atMost(WAIT).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(2));
    }

    private static void awaitDepth(QueueProxy proxy, int depth) {
        soon().untilAsserted(() -> assertThat(proxy.scheduler().snapshot().totalDepth()).isEqualTo(depth));
    }

    private static HttpResponse<String> done(CompletableFuture<HttpResponse<String>> response) throws Exception {
        return response.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }
}
