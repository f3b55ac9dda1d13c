package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.get;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.config.Tier;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.queue.routing.Host;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The Python ollama-queue-proxy's endpoint shapes (seed-surface.md §4.3, §7) on a real proxy in front of a fake
 * Ollama: {@code /queue/summary} and {@code /queue/status} carry its fields beside oqp's, read by its Homepage
 * recipes' field paths; the queue controls answer its bodies; {@code /health} answers its JSON.
 */
class PythonShapesEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final String KEY_WEBUI = "webui-key-0123456789abcdef";
    private static final String KEY_HOME = "home-key-0123456789abcdef";
    private static final String CONFIG = """
            proxy:
              drain_timeout: 1s
              allow_model_management: false
            queue:
              low: {max_depth: 0, max_wait: 60s}
            auth:
              keys:
                - {client_id: webui, key: %s, description: Open WebUI, scope: management, max_priority: high}
                - {client_id: homepage, key: %s, scope: read}
            """.formatted(KEY_WEBUI, KEY_HOME);
    private static final String ISO_UTC_MICROS = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}\\+00:00";

    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    @Test
    void homepageRecipesReadTheirFieldPathsFromSummaryAndStatus() throws Exception {
        FakeOllama ollama = fixture.ollama(fake());
        QueueProxy proxy = started(ollama);
        assertThat(fixture.send(post(generate(proxy), gen("one", 1), "Authorization", bearer(KEY_WEBUI))).statusCode())
                .isEqualTo(200);

        // customapi on /queue/summary: field: queued, active, hosts_healthy (format: number), uptime_seconds
        // (format: duration, seconds).
        JsonNode summary = read(proxy, "/queue/summary", KEY_HOME);
        for (String field : List.of("queued", "active", "hosts_healthy", "uptime_seconds")) {
            assertThat(path(summary, field).isIntegralNumber()).as(field).isTrue();
        }
        assertThat(path(summary, "hosts_healthy").asInt()).isEqualTo(1);
        // A nested value renders as a blank row: every value is a scalar.
        for (Iterator<JsonNode> values = summary.elements(); values.hasNext(); ) {
            assertThat(values.next().isValueNode()).isTrue();
        }
        // dynamic-list on /queue/status: items: hosts, name: name, label: requests_handled (format: number).
        JsonNode items = path(read(proxy, "/queue/status", KEY_HOME), "hosts");
        assertThat(items.isArray()).isTrue();
        assertThat(items).hasSize(1);
        assertThat(path(items.get(0), "name").isTextual()).isTrue();
        assertThat(path(items.get(0), "name").asText()).isEqualTo("gpu-1");
        assertThat(path(items.get(0), "requests_handled").isIntegralNumber()).isTrue();
        assertThat(path(items.get(0), "requests_handled").asLong()).isEqualTo(1);
    }

    @Test
    void summaryCarriesThePythonToolsTenFieldsBesideOurs() throws Exception {
        FakeOllama ollama = fixture.ollama(fake());
        QueueProxy proxy = started(ollama);
        trafficWithOneRejection(proxy, ollama);

        JsonNode summary = read(proxy, "/queue/summary", KEY_HOME);

        List<String> names = new ArrayList<>();
        summary.fieldNames().forEachRemaining(names::add);
        assertThat(names).startsWith("status", "queued", "active", "max_concurrent", "hosts_healthy", "hosts_total",
                "processed", "rejected", "expired", "uptime_seconds").contains("in_flight", "paused", "draining");
        assertThat(summary.get("status").asText()).isEqualTo("ok");
        for (String field : List.of("queued", "active", "max_concurrent", "hosts_healthy", "hosts_total", "processed",
                "rejected", "expired", "uptime_seconds")) {
            assertThat(summary.get(field).isIntegralNumber()).as(field).isTrue();
        }
        assertThat(summary.get("queued").asInt()).isZero();
        assertThat(summary.get("active").asInt()).isZero();
        assertThat(summary.get("max_concurrent").asInt()).isEqualTo(1);
        assertThat(summary.get("hosts_total").asInt()).isEqualTo(1);
        assertThat(summary.get("processed").asInt()).as("the blocker").isEqualTo(1);
        assertThat(summary.get("rejected").asInt()).as("the low request").isEqualTo(1);
        assertThat(summary.get("expired").asInt()).isZero();
        assertThat(summary.get("paused").asBoolean()).isFalse();
    }

    @Test
    void statusCarriesThePythonToolsFieldsBesideOurs() throws Exception {
        FakeOllama ollama = fixture.ollama(fake());
        QueueProxy proxy = started(ollama);
        trafficWithOneRejection(proxy, ollama);

        // The Python tool's clients map, in full for a management key (a read key sees only its own client).
        JsonNode status = read(proxy, "/queue/status", KEY_WEBUI);
        List<String> own = new ArrayList<>();
        read(proxy, "/queue/status", KEY_HOME).get("clients").fieldNames().forEachRemaining(own::add);
        assertThat(own).containsExactly("homepage");

        assertThat(status.get("status").asText()).isEqualTo("ok");
        assertThat(status.get("uptime_seconds").isIntegralNumber()).isTrue();
        JsonNode normal = status.get("queue").get("normal");
        assertThat(normal.get("depth").asInt()).isZero();
        assertThat(normal.get("max_depth").asInt()).isEqualTo(100);
        assertThat(normal.get("processed").asInt()).isEqualTo(1);
        assertThat(normal.get("rejected").asInt()).isZero();
        assertThat(normal.get("expired").asInt()).isZero();
        JsonNode low = status.get("queue").get("low");
        assertThat(low.get("max_depth").asInt()).isZero();
        assertThat(low.get("rejected").asInt()).isEqualTo(1);
        assertThat(status.get("queue").get("high").get("max_depth").asInt()).isEqualTo(50);
        assertThat(status.get("concurrency").get("active").asInt()).isZero();
        assertThat(status.get("concurrency").get("max").asInt()).isEqualTo(1);

        JsonNode host = status.get("hosts").get(0);
        assertThat(host.get("name").asText()).isEqualTo("gpu-1");
        assertThat(host.get("healthy").asBoolean()).isTrue();
        assertThat(host.get("models")).extracting(JsonNode::asText).containsExactly("all-minilm:latest", "llama3:latest");
        assertThat(host.get("requests_handled").asInt()).isEqualTo(1);
        assertThat(host.get("failures").asInt()).isZero();
        assertThat(host.get("last_checked").asText()).matches(ISO_UTC_MICROS);
        assertThat(host.has("url")).as("no URL: it may carry credentials").isFalse();

        JsonNode clients = status.get("clients");
        List<String> ids = new ArrayList<>();
        clients.fieldNames().forEachRemaining(ids::add);
        assertThat(ids).as("configured clients, in config order").startsWith("webui", "homepage");
        assertThat(clients.get("webui").get("description").asText()).isEqualTo("Open WebUI");
        assertThat(clients.get("webui").get("processed").asInt()).isEqualTo(1);
        assertThat(clients.get("webui").get("rejected").asInt()).isEqualTo(1);
        assertThat(clients.get("homepage").get("description").isNull()).isTrue();
        assertThat(clients.get("homepage").get("processed").asInt()).isZero();

        JsonNode security = status.get("security");
        assertThat(security.get("auth_enabled").asBoolean()).isTrue();
        assertThat(security.get("model_management_allowed").asBoolean()).isFalse();
        assertThat(security.get("active_keys").asInt()).isEqualTo(2);

        // Ours, beside.
        assertThat(status.get("paused").isArray()).isTrue();
        assertThat(status.get("queued").get("normal").asInt()).isZero();
        assertThat(status.get("in_flight").asInt()).isZero();
        assertThat(host.get("health").asText()).isEqualTo("healthy");
        assertThat(host.get("installed")).extracting(JsonNode::asText).containsExactly("all-minilm:latest",
                "llama3:latest");
        assertThat(host.get("last_health_check").asText()).endsWith("Z");
        assertThat(clients.get("webui").get("client_id").asText()).isEqualTo("webui");
        assertThat(clients.get("webui").get("completion_tokens").asInt()).isPositive();
    }

    @Test
    void queueControlsAnswerThePythonToolsBodiesBesideOurs() throws Exception {
        FakeOllama ollama = fixture.ollama(fake());
        QueueProxy proxy = started(ollama);
        var blocker = fixture.sendAsync(post(generate(proxy), gen("blocker", 100), "Authorization", bearer(KEY_WEBUI)));
        ollama.awaitRequests(1, WAIT);
        var queued = fixture.sendAsync(post(generate(proxy), gen("queued", 1), "Authorization", bearer(KEY_WEBUI)));
        awaitDepth(proxy, 1);

        JsonNode pauseLow = control(proxy, "/queue/pause?tier=low");
        JsonNode pauseAll = control(proxy, "/queue/pause");
        JsonNode resume = control(proxy, "/queue/resume");
        JsonNode flush = control(proxy, "/queue/flush?tier=normal");

        assertThat(pauseLow.get("status").asText()).isEqualTo("paused");
        assertThat(pauseLow.get("tier").asText()).isEqualTo("low");
        assertThat(pauseLow.get("action").asText()).isEqualTo("pause");
        assertThat(pauseLow.get("paused").asBoolean()).isTrue();
        assertThat(pauseLow.get("queued").asInt()).as("the summary's fields, beside").isEqualTo(1);
        assertThat(pauseAll.get("tier").asText()).isEqualTo("all");
        assertThat(resume.get("status").asText()).isEqualTo("resumed");
        assertThat(resume.get("tier").asText()).isEqualTo("all");
        assertThat(flush.get("status").asText()).isEqualTo("flushed");
        assertThat(flush.get("tier").asText()).isEqualTo("normal");
        assertThat(flush.get("dropped").asInt()).isEqualTo(1);
        assertThat(flush.get("flushed").asInt()).isEqualTo(1);
        assertThat(done(queued).statusCode()).isEqualTo(503);
        assertThat(done(blocker).statusCode()).isEqualTo(200);
        JsonNode drain = control(proxy, "/queue/drain");
        assertThat(drain.get("status").asText()).isEqualTo("drained");
        assertThat(drain.get("draining").asBoolean()).isTrue();
    }

    @Test
    void drainAnswersOnceTheDrainedTiersHoldNothingAsThePythonToolDid() throws Exception {
        FakeOllama ollama = fixture.ollama(fake());
        QueueProxy proxy = started(ollama);
        var blocker = fixture.sendAsync(post(generate(proxy), gen("blocker", 150), "Authorization", bearer(KEY_WEBUI)));
        ollama.awaitRequests(1, WAIT);
        var queued = fixture.sendAsync(post(generate(proxy), gen("queued", 1), "Authorization", bearer(KEY_WEBUI)));
        awaitDepth(proxy, 1);

        CompletableFuture<HttpResponse<String>> drain = fixture.sendAsync(post(base(proxy).resolve("/queue/drain"), "",
                "Authorization", bearer(KEY_WEBUI)));
        await().atMost(WAIT).until(() -> !proxy.scheduler().snapshot().draining().isEmpty());
        boolean answeredEarly = drain.isDone();
        boolean blockerStillRunning = !ollama.requests().get(0).finished();

        assertThat(blockerStillRunning).as("the test's premise: the queued request cannot have left yet").isTrue();
        assertThat(answeredEarly).as("answered while a request still waited").isFalse();
        HttpResponse<String> drained = done(drain);
        assertThat(drained.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(drained.body()).get("status").asText()).isEqualTo("drained");
        assertThat(JSON.readTree(drained.body()).get("queued").asInt()).isZero();
        assertThat(done(blocker).statusCode()).isEqualTo(200);
        assertThat(done(queued).statusCode()).as("a drain dispatches what waits").isEqualTo(200);
        assertThat(proxy.scheduler().snapshot().draining()).contains(Tier.NORMAL);
    }

    @Test
    void healthAnswersJsonWithARequestIdOnEveryPortAndHeadStillWorks() throws Exception {
        FakeOllama ollama = fixture.ollama(fake());
        QueueProxy proxy = fixture.start(ollama, 1, CONFIG + """
                services:
                  - name: webui
                    listen: %d
                    headers: {Authorization: "Bearer %s"}
                """.formatted(QueueFixture.PLACEHOLDER_PORT, KEY_WEBUI));

        HttpResponse<String> main = fixture.send(get(base(proxy).resolve("/health"), "X-Request-ID", "probe-1"));
        HttpResponse<String> generated = fixture.send(get(base(proxy).resolve("/health"), "X-Request-ID", "no spaces"));
        HttpResponse<String> service = fixture.send(get(base(proxy, "webui").resolve("/health")));
        HttpResponse<String> head = fixture.send(HttpRequest.newBuilder(base(proxy).resolve("/health"))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build());

        for (HttpResponse<String> health : List.of(main, generated, service)) {
            assertThat(health.statusCode()).isEqualTo(200);
            assertThat(health.headers().firstValue("Content-Type")).hasValueSatisfying(
                    type -> assertThat(type).startsWith("application/json"));
            assertThat(JSON.readTree(health.body())).isEqualTo(JSON.readTree("{\"status\":\"ok\"}"));
            assertThat(health.headers().firstValue("X-Request-ID")).isPresent();
        }
        assertThat(main.headers().firstValue("X-Request-ID")).hasValue("probe-1");
        assertThat(generated.headers().firstValue("X-Request-ID")).hasValueSatisfying(
                id -> assertThat(id).matches("[0-9a-f]{16}"));
        assertThat(head.statusCode()).isEqualTo(200);
        assertThat(head.body()).isEmpty();
        assertThat(head.headers().firstValue("X-Request-ID")).isPresent();
        assertThat(ollama.requests()).as("never proxied").isEmpty();
    }

    /** A blocker holds the one slot while a low request meets its tier's max_depth of 0; then the blocker ends. */
    private void trafficWithOneRejection(QueueProxy proxy, FakeOllama ollama) throws Exception {
        var blocker = fixture.sendAsync(post(generate(proxy), gen("blocker", 20), "Authorization", bearer(KEY_WEBUI)));
        ollama.awaitRequests(1, WAIT);
        HttpResponse<String> low = fixture.send(post(generate(proxy), gen("low", 1), "Authorization", bearer(KEY_WEBUI),
                "X-Queue-Priority", "low"));
        assertThat(low.statusCode()).isEqualTo(503);
        assertThat(done(blocker).statusCode()).isEqualTo(200);
        await().atMost(WAIT).until(() -> proxy.pool().inFlight() == 0);
    }

    private QueueProxy started(FakeOllama ollama) throws Exception {
        QueueProxy proxy = fixture.start(ollama, 1, CONFIG);
        await().atMost(WAIT).until(() -> proxy.fleet().hosts().stream()
                .allMatch(h -> h.health() == Host.Health.HEALTHY && h.inventory().syncedAt() != null));
        return proxy;
    }

    private JsonNode read(QueueProxy proxy, String path, String key) throws Exception {
        HttpResponse<String> response = fixture.send(get(base(proxy).resolve(path), "Authorization", bearer(key)));
        assertThat(response.statusCode()).isEqualTo(200);
        return JSON.readTree(response.body());
    }

    private JsonNode control(QueueProxy proxy, String pathAndQuery) throws Exception {
        HttpResponse<String> response = fixture.send(post(base(proxy).resolve(pathAndQuery), "", "Authorization",
                bearer(KEY_WEBUI)));
        assertThat(response.statusCode()).as(pathAndQuery).isEqualTo(200);
        return JSON.readTree(response.body());
    }

    /** A Homepage field path: keys separated by dots; a missing one fails the test. */
    private static JsonNode path(JsonNode root, String dotted) {
        JsonNode node = root;
        for (String key : dotted.split("\\.")) {
            node = node.get(key);
            assertThat(node).as(dotted).isNotNull();
        }
        return node;
    }

    private static void awaitDepth(QueueProxy proxy, int depth) {
        await().atMost(WAIT).until(() -> proxy.scheduler().snapshot().totalDepth() == depth);
    }

    private static FakeOllama.Builder fake() {
        return FakeOllama.builder().installed("llama3:latest", "all-minilm:latest")
                .tokens(Collections.nCopies(200, " t")).tokenDelay(Duration.ofMillis(20));
    }

    private static URI generate(QueueProxy proxy) {
        return base(proxy).resolve("/api/generate");
    }

    /** A non-streamed generate whose upstream work is {@code tokens} × the fake's token delay. */
    private static String gen(String prompt, int tokens) {
        return "{\"model\":\"llama3\",\"prompt\":\"" + prompt + "\",\"stream\":false,\"options\":{\"num_predict\":"
                + tokens + "}}";
    }

    private static String bearer(String key) {
        return "Bearer " + key;
    }

    private static HttpResponse<String> done(CompletableFuture<HttpResponse<String>> response) throws Exception {
        return response.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }
}
