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
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import com.fasterxml.jackson.databind.JsonNode;
import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.Target;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.Fault;
import dev.oqp.common.testing.LogCapture;
import dev.oqp.queue.reload.Reload;
import dev.oqp.queue.routing.Host;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Webhooks seen from a receiver on loopback that checks every signature, with the real queue proxy in front of a
 * fake Ollama: each event fires once per transition, a 5xx is retried, a receiver that keeps failing is dropped and
 * counted, a hanging receiver never holds up a request, an endpoint on a private address is refused on reload,
 * and no payload carries a key, a secret or a prompt. The retry backoff is shortened to 50 ms (an internal
 * property, not a configuration key).
 */
class WebhooksEndToEndTest {
    private static final String BACKOFF_PROPERTY = "oqp.webhooks.backoff-base-ms";
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final Duration SETTLE = Duration.ofMillis(500);
    private static final String SECRET = "webhook-secret-0123456789abcdef";
    private static final String KEY_APP = "app-key-0123456789abcdef";
    private static final String PROMPT = "PROMPT-TEXT-must-never-leave";
    private static final List<String> TOKENS = Collections.nCopies(200, " t");
    private static final String ALL_EVENTS = "[queue.full, queue.high_watermark, queue.drained, queue.over_capacity,"
            + " host.unhealthy, host.recovered, config.reloaded, config.reload_failed, client.rate_limited]";

    private final QueueFixture fixture = new QueueFixture();
    private final List<WebhookReceiver> receivers = new ArrayList<>();

    @BeforeAll
    static void shortBackoff() {
        System.setProperty(BACKOFF_PROPERTY, "50");
    }

    @AfterAll
    static void defaultBackoff() {
        System.clearProperty(BACKOFF_PROPERTY);
    }

    @AfterEach
    void tearDown() {
        fixture.close();
        receivers.forEach(WebhookReceiver::close);
    }

    @Test
    void queueEventsFireOncePerTransitionSignedAndInThePythonToolsShape() throws Exception {
        WebhookReceiver receiver = receiver();
        FakeOllama ollama = fixture.ollama(slow());
        String yaml = config(ollama, "1h", webhooks("2s", 2, receiver), """
                auth:
                  keys:
                    - {client_id: app, key: %s}
                queue:
                  normal: {max_depth: 2, high_watermark_pct: 50}
                """.formatted(KEY_APP));
        QueueProxy proxy = fixture.start(ollama, 1, yaml);

        var blocker = generateAsync(proxy, 40);
        ollama.awaitRequests(1, WAIT);
        var q1 = generateAsync(proxy, 2);
        awaitDepth(proxy, 1);
        var q2 = generateAsync(proxy, 2);
        awaitDepth(proxy, 2);
        HttpResponse<String> refused = fixture.send(generate(proxy, 2));
        HttpResponse<String> refusedAgain = fixture.send(generate(proxy, 2));
        assertThat(List.of(refused.statusCode(), refusedAgain.statusCode())).containsOnly(503);
        assertThat(List.of(done(blocker), done(q1), done(q2))).extracting(HttpResponse::statusCode).containsOnly(200);
        awaitCounts(receiver, Map.of("queue.high_watermark", 1, "queue.full", 1, "queue.drained", 1));

        // Second round: the mark was re-armed when dispatches emptied the tier, the drain fires again.
        var blocker2 = generateAsync(proxy, 20);
        ollama.awaitRequests(4, WAIT);
        var q3 = generateAsync(proxy, 2);
        assertThat(List.of(done(blocker2), done(q3))).extracting(HttpResponse::statusCode).containsOnly(200);
        awaitCounts(receiver, Map.of("queue.high_watermark", 2, "queue.full", 1, "queue.drained", 2));

        WebhookReceiver.Received full = receiver.events("queue.full").get(0);
        String requestId = refused.headers().firstValue("X-Request-ID").orElseThrow();
        assertThat(full.body()).matches("\\{\"event\":\"queue\\.full\",\"timestamp\":\"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:"
                + "\\d\\d(\\.\\d{6})?\\+00:00\",\"tier\":\"normal\",\"client_id\":\"app\",\"request_id\":\""
                + requestId + "\"}");
        JsonNode watermark = receiver.events("queue.high_watermark").get(0).json();
        assertThat(watermark.get("tier").asText()).isEqualTo("normal");
        assertThat(watermark.get("queue_depth").asInt()).isEqualTo(1);
        assertThat(watermark.get("max_depth").asInt()).isEqualTo(2);
        assertThat(receiver.events("queue.drained").get(0).body()).matches("\\{\"event\":\"queue\\.drained\","
                + "\"timestamp\":\"[^\"]+\"}");
        assertSignedAndClean(receiver);
    }

    @Test
    void overCapacityFiresOncePerTierUntilTheTierAdmitsAgain() throws Exception {
        WebhookReceiver receiver = receiver();
        FakeOllama ollama = fixture.ollama(slow());
        QueueProxy proxy = fixture.start(ollama, 1, config(ollama, "1h", webhooks("2s", 2, receiver),
                "queue:\n  max_queued_bytes: 1KiB\n"));
        String big = "x".repeat(700);

        var blocker = generateAsync(proxy, 30);
        ollama.awaitRequests(1, WAIT);
        var queued = fixture.sendAsync(post(generateUri(proxy), gen(PROMPT + big, 2)));
        awaitDepth(proxy, 1);
        HttpResponse<String> refused = fixture.send(post(generateUri(proxy), gen(PROMPT + big, 2)));
        HttpResponse<String> refusedAgain = fixture.send(post(generateUri(proxy), gen(PROMPT + big, 2)));
        assertThat(List.of(refused.statusCode(), refusedAgain.statusCode())).containsOnly(503);
        assertThat(List.of(done(blocker), done(queued))).extracting(HttpResponse::statusCode).containsOnly(200);

        awaitCounts(receiver, Map.of("queue.over_capacity", 1, "queue.full", 0));
        JsonNode event = receiver.events("queue.over_capacity").get(0).json();
        assertThat(event.get("tier").asText()).isEqualTo("normal");
        assertThat(event.get("client_id").asText()).isEqualTo("anonymous");
        assertThat(event.get("request_id").asText()).isEqualTo(refused.headers().firstValue("X-Request-ID").orElseThrow());
        assertSignedAndClean(receiver);
    }

    @Test
    void rateLimitedFiresOncePerClientAndLimitUntilTheClientIsAdmittedAgainAndReloadsAreReported() throws Exception {
        WebhookReceiver receiver = receiver();
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        String hooks = webhooks("2s", 2, receiver);
        Supplier<String> limited = () -> config(ollama, "1h", hooks, auth(", requests_per_minute: 1"));
        QueueProxy proxy = fixture.start(ollama, 1, limited.get());

        assertThat(statusWithKey(proxy)).isEqualTo(200);
        assertThat(statusWithKey(proxy)).isEqualTo(429);
        assertThat(statusWithKey(proxy)).isEqualTo(429);
        awaitCounts(receiver, Map.of("client.rate_limited", 1));

        assertThat(reload(proxy, config(ollama, "1h", hooks, auth(""))).applied()).isTrue();
        assertThat(statusWithKey(proxy)).as("no limit now: admitted, which re-arms the event").isEqualTo(200);
        assertThat(reload(proxy, limited.get()).applied()).isTrue();
        assertThat(statusWithKey(proxy)).isEqualTo(429);
        assertThat(statusWithKey(proxy)).isEqualTo(429);

        awaitCounts(receiver, Map.of("client.rate_limited", 2, "config.reloaded", 2));
        JsonNode event = receiver.events("client.rate_limited").get(0).json();
        assertThat(event.get("client_id").asText()).isEqualTo("app");
        assertThat(event.get("limit").asText()).isEqualTo("requests_per_minute");
        assertThat(event.get("retry_after_seconds").asLong()).isPositive();
        assertThat(receiver.events("config.reloaded").get(0).body()).contains("\"changed\":[\"auth\"]");
        assertSignedAndClean(receiver);
    }

    @Test
    void hostUnhealthyAndRecoveredFireOnceEachWhenTheHostGoesDownAndComesBack() throws Exception {
        WebhookReceiver receiver = receiver();
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = fixture.start(ollama, 1, config(ollama, "100ms", webhooks("2s", 2, receiver), ""));
        Host host = proxy.fleet().host("gpu-1");
        await().atMost(WAIT).until(() -> host.health() == Host.Health.HEALTHY);

        ollama.fault(Fault.refuseConnections());
        await().atMost(WAIT).until(() -> host.health() == Host.Health.UNHEALTHY);
        // Several failed checks later, still one event.
        awaitCounts(receiver, Map.of("host.unhealthy", 1, "host.recovered", 0));
        ollama.fault(Fault.none());
        await().atMost(WAIT).until(() -> host.health() == Host.Health.HEALTHY);
        awaitCounts(receiver, Map.of("host.unhealthy", 1, "host.recovered", 1));

        assertThat(receiver.events("host.unhealthy").get(0).body()).matches("\\{\"event\":\"host\\.unhealthy\","
                + "\"timestamp\":\"[^\"]+\",\"name\":\"gpu-1\",\"error\":\"(connection_refused|connection_closed)\"}");
        assertThat(receiver.events("host.recovered").get(0).json().get("name").asText()).isEqualTo("gpu-1");
        assertThat(receiver.received()).allSatisfy(r -> assertThat(r.body()).doesNotContain("127.0.0.1"));
        assertSignedAndClean(receiver);
    }

    @Test
    void aReceiverAnswering500IsRetriedUntilItAcceptsTheSameEvent() throws Exception {
        WebhookReceiver receiver = receiver().answering(n -> n <= 2 ? 500 : 200);
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        String yaml = config(ollama, "1h", webhooks("2s", 3, receiver), "");
        QueueProxy proxy = fixture.start(ollama, 1, yaml);

        assertThat(reload(proxy, yaml).applied()).isTrue();

        await().atMost(WAIT).until(() -> metrics(proxy).contains(
                "oqp_webhook_deliveries_total{event=\"config.reloaded\",result=\"delivered\"} 1.0"));
        assertThat(metrics(proxy)).contains(
                "oqp_webhook_deliveries_total{event=\"config.reloaded\",result=\"retried\"} 2.0");
        List<WebhookReceiver.Received> attempts = receiver.events("config.reloaded");
        assertThat(attempts).hasSize(3);
        assertThat(attempts).extracting(WebhookReceiver.Received::body).containsOnly(attempts.get(0).body());
        assertSignedAndClean(receiver);
    }

    @Test
    void aReceiverThatKeepsFailingIsDroppedAndCountedAfterTheRetriesAndA4xxIsNotRetried() throws Exception {
        WebhookReceiver failing = receiver().answering(n -> 500);
        WebhookReceiver refusing = receiver().answering(n -> 404);
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        String yaml = config(ollama, "1h", webhooks("2s", 2, failing, refusing), "");
        QueueProxy proxy = fixture.start(ollama, 1, yaml);

        try (LogCapture logs = LogCapture.start()) {
            assertThat(reload(proxy, yaml).applied()).isTrue();

            await().atMost(WAIT).until(() -> metrics(proxy).contains(
                    "oqp_webhook_deliveries_total{event=\"config.reloaded\",result=\"failed\"} 2.0"));
            await().during(SETTLE).atMost(WAIT).until(() -> failing.received().size() == 3
                    && refusing.received().size() == 1);
            assertThat(metrics(proxy)).contains(
                    "oqp_webhook_deliveries_total{event=\"config.reloaded\",result=\"retried\"} 2.0");
            List<String> failures = logs.lines().stream().filter(l -> l.contains("webhook delivery failed")).toList();
            assertThat(failures).isNotEmpty().allSatisfy(line -> assertThat(line).contains("127.0.0.1")
                    .doesNotContain("/hook").doesNotContain(SECRET));
            assertThat(String.join("\n", failures)).contains("status 500").contains("status 404");
        }
    }

    @Test
    void aHangingReceiverNeverDelaysARequestNorAnotherEndpoint() throws Exception {
        WebhookReceiver hanging = receiver().hanging(Duration.ofSeconds(30));
        WebhookReceiver healthy = receiver();
        FakeOllama ollama = fixture.ollama(slow());
        QueueProxy proxy = fixture.start(ollama, 1, config(ollama, "1h", webhooks("500ms", 1, hanging, healthy),
                "queue:\n  normal: {max_depth: 1, high_watermark_pct: 100}\n"));

        for (int round = 1; round <= 3; round++) {
            var blocker = generateAsync(proxy, 30);
            ollama.awaitRequests(2 * round - 1, WAIT);
            long start = System.nanoTime();
            var queued = generateAsync(proxy, 1);
            awaitDepth(proxy, 1);
            HttpResponse<String> refused = fixture.send(generate(proxy, 1));
            long refusedMillis = (System.nanoTime() - start) / 1_000_000;
            assertThat(refused.statusCode()).isEqualTo(503);
            assertThat(done(blocker).statusCode()).isEqualTo(200);
            assertThat(done(queued).statusCode()).isEqualTo(200);
            long queuedMillis = (System.nanoTime() - start) / 1_000_000;
            assertThat(refusedMillis).as("a refusal that publishes queue.full, round " + round).isLessThan(1000);
            assertThat(queuedMillis).as("a queued request that publishes two events, round " + round).isLessThan(1000);
        }
        await().atMost(WAIT).until(() -> healthy.events("queue.drained").size() == 3);
        assertThat(hanging.received()).as("the hanging receiver was being called all along").isNotEmpty();
    }

    @Test
    void aReloadAddingAnEndpointOnAPrivateAddressIsRefusedAndReportedUnlessTheHostIsAllowed() throws Exception {
        WebhookReceiver receiver = receiver();
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        String hooks = webhooks("2s", 2, receiver);
        QueueProxy proxy = fixture.start(ollama, 1, config(ollama, "1h", hooks, ""));
        String privateEndpoint = "    - url: http://10.1.2.3:9/secret-path\n      events: [host.recovered]\n";

        Reload refused = reload(proxy, config(ollama, "1h", hooks + privateEndpoint, ""));

        assertThat(refused.applied()).isFalse();
        assertThat(refused.problems()).containsExactly("webhooks.endpoints[1].url: host 10.1.2.3 resolves to 10.1.2.3"
                + " (private 10.0.0.0/8), refused as an SSRF risk (list the host in webhooks.allowed_hosts to allow it)");
        awaitCounts(receiver, Map.of("config.reload_failed", 1));
        assertThat(receiver.events("config.reload_failed").get(0).body()).contains("\"problems\":1")
                .doesNotContain("10.1.2.3").doesNotContain("secret-path");

        String allowed = hooks.replace("allowed_hosts: [127.0.0.1]", "allowed_hosts: [127.0.0.1, 10.1.2.3]");
        assertThat(reload(proxy, config(ollama, "1h", allowed + privateEndpoint, "")).applied()).isTrue();
        awaitCounts(receiver, Map.of("config.reload_failed", 1, "config.reloaded", 1));
        assertThat(receiver.events("config.reloaded").get(0).body()).contains("\"changed\":[\"webhooks\"]");
    }

    // ---- helpers ----

    private WebhookReceiver receiver() throws Exception {
        WebhookReceiver receiver = new WebhookReceiver(SECRET);
        receivers.add(receiver);
        return receiver;
    }

    private static FakeOllama.Builder slow() {
        return FakeOllama.builder().installed("llama3:latest").tokens(TOKENS).tokenDelay(Duration.ofMillis(10));
    }

    /** A whole configuration (so that a reload can be given the same file with one change). */
    private static String config(FakeOllama ollama, String healthInterval, String webhooks, String rest) {
        return "proxy:\n  port: " + QueueFixture.PLACEHOLDER_PORT + "\n  drain_timeout: 1s\n"
                + "ollama:\n  health_check_interval: " + healthInterval + "\n  hosts:\n    - name: gpu-1\n      url: "
                + ollama.baseUri() + "\n      max_concurrent: 1\n"
                + "logging:\n  level: warn\n  access_log: false\n"
                + "admin:\n  metrics_public: true\n"
                + rest + webhooks;
    }

    /** Every event to each receiver, signed with {@link #SECRET}; loopback allowed. Endpoints come last. */
    private static String webhooks(String timeout, int retries, WebhookReceiver... receivers) {
        StringBuilder sb = new StringBuilder("webhooks:\n  secret: \"" + SECRET + "\"\n  allowed_hosts: [127.0.0.1]\n"
                + "  timeout: " + timeout + "\n  retries: " + retries + "\n  endpoints:\n");
        for (WebhookReceiver r : receivers) {
            sb.append("    - url: ").append(r.url()).append("\n      events: ").append(ALL_EVENTS).append('\n');
        }
        return sb.toString();
    }

    private static String auth(String limits) {
        return "auth:\n  keys:\n    - {client_id: app, key: " + KEY_APP + limits + "}\n";
    }

    private Reload reload(QueueProxy proxy, String yaml) throws Exception {
        return proxy.reload(ConfigLoader.parse(yaml, Target.QUEUE_PROXY, Map.of()));
    }

    private int statusWithKey(QueueProxy proxy) throws Exception {
        return fixture.send(post(generateUri(proxy), gen(PROMPT, 1), "Authorization", "Bearer " + KEY_APP))
                .statusCode();
    }

    private static URI generateUri(QueueProxy proxy) {
        return base(proxy).resolve("/api/generate");
    }

    /** A generate with the leak-detector prompt, with the key (ignored when auth is off). */
    private static java.net.http.HttpRequest generate(QueueProxy proxy, int tokens) {
        return post(generateUri(proxy), gen(PROMPT, tokens), "Authorization", "Bearer " + KEY_APP);
    }

    private CompletableFuture<HttpResponse<String>> generateAsync(QueueProxy proxy, int tokens) {
        return fixture.sendAsync(generate(proxy, tokens));
    }

    private static String gen(String prompt, int tokens) {
        return "{\"model\":\"llama3\",\"prompt\":\"" + prompt + "\",\"stream\":false,\"options\":{\"num_predict\":"
                + tokens + "}}";
    }

    private String metrics(QueueProxy proxy) throws Exception {
        return fixture.send(get(base(proxy).resolve("/metrics"))).body();
    }

    private static void awaitDepth(QueueProxy proxy, int depth) {
        await().atMost(WAIT).until(() -> proxy.scheduler().snapshot().totalDepth() == depth);
    }

    private static HttpResponse<String> done(CompletableFuture<HttpResponse<String>> response) throws Exception {
        return response.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Waits until each event was received exactly that many times, and stays so for a moment (no duplicate). */
    private static void awaitCounts(WebhookReceiver receiver, Map<String, Integer> counts) {
        await().atMost(WAIT).during(SETTLE).until(() -> counts.entrySet().stream()
                .allMatch(e -> receiver.events(e.getKey()).size() == e.getValue()));
    }

    /** Every POST signed with the secret and shaped as documented; none carries the key, the secret or a prompt. */
    private static void assertSignedAndClean(WebhookReceiver receiver) {
        assertThat(receiver.received()).isNotEmpty().allSatisfy(r -> {
            assertThat(r.signatureValid()).as("signature of " + r.event()).isTrue();
            assertThat(r.header("Content-Type")).startsWith("application/json");
            assertThat(r.header("User-Agent")).startsWith("oqp/");
            assertThat(r.json().get("event").asText()).isEqualTo(r.event());
            assertThat(r.body()).doesNotContain(KEY_APP).doesNotContain(SECRET).doesNotContain(PROMPT);
        });
    }
}
