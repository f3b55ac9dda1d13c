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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.Fault;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.queue.routing.Host;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The Python ollama-queue-proxy's response headers (seed-surface.md §5.2) and metric label names (§6) on a real
 * proxy in front of fake Ollamas: {@code X-Failover-Host} on every answer a host gave, {@code X-Queue-Position}
 * in the order requests reach the host, and series a Python-era query selects by its label names.
 */
class PythonHeadersAndMetricsEndToEndTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final Pattern SERIES = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)\\{([^}]*)} (\\S+)$");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");
    private static final String[] CLIENTS = {"alice", "bob", "carol", "dave"};

    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    @Test
    void failoverHostNamesTheHostOfEveryProxiedAnswerAndNeverOurOwnErrors() throws Exception {
        FakeOllama a = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));
        FakeOllama b = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = fixture.start(a, 2, """
                ollama:
                  health_check_interval: 1h
                  model_sync_interval: 1h
                  hosts:
                    - {name: a, url: "%s", max_concurrent: 2}
                    - {name: b, url: "%s", max_concurrent: 2}
                services:
                  - {name: app, listen: %d}
                """.formatted(a.baseUri(), b.baseUri(), QueueFixture.PLACEHOLDER_PORT));
        await().atMost(WAIT).until(() -> proxy.fleet().hosts().stream()
                .allMatch(h -> h.health() == Host.Health.HEALTHY && h.inventory().syncedAt() != null));

        HttpResponse<String> inference = fixture.send(post(generate(base(proxy)), gen("first")));
        HttpResponse<String> onService = fixture.send(post(generate(base(proxy, "app")), gen("service")));
        HttpResponse<String> version = fixture.send(get(base(proxy).resolve("/api/version")));
        HttpResponse<String> show = fixture.send(post(base(proxy).resolve("/api/show"), "{\"model\":\"llama3\"}"));
        HttpResponse<String> tags = fixture.send(get(base(proxy).resolve("/api/tags")));
        HttpResponse<String> notFound = fixture.send(get(base(proxy).resolve("/nope")));
        HttpResponse<String> badBody = fixture.send(post(generate(base(proxy)), "[1]"));

        assertThat(inference.statusCode()).isEqualTo(200);
        assertThat(inference.headers().firstValue("X-Failover-Host")).hasValue("a");
        assertThat(inference.headers().firstValue("X-Upstream-Host")).hasValue("a");
        assertThat(onService.headers().firstValue("X-Failover-Host")).hasValue("a");
        assertThat(version.statusCode()).isEqualTo(200);
        assertThat(version.headers().firstValue("X-Failover-Host")).hasValue("a");
        assertThat(show.statusCode()).isEqualTo(200);
        assertThat(show.headers().firstValue("X-Failover-Host")).hasValue("a");
        assertThat(tags.headers().firstValue("X-Failover-Host")).as("a merged list: the hosts that answered")
                .hasValue("a, b");
        assertThat(notFound.statusCode()).isEqualTo(404);
        assertThat(notFound.headers().firstValue("X-Failover-Host")).isEmpty();
        assertThat(badBody.statusCode()).isEqualTo(400);
        assertThat(badBody.headers().firstValue("X-Failover-Host")).isEmpty();

        a.fault(Fault.refuseConnections());
        HttpResponse<String> failedOver = fixture.send(post(generate(base(proxy)), gen("second")));
        assertThat(failedOver.statusCode()).isEqualTo(200);
        assertThat(failedOver.headers().firstValue("X-Failover-Attempts")).hasValue("2");
        assertThat(failedOver.headers().firstValue("X-Failover-Host")).as("the surviving host").hasValue("b");

        b.fault(Fault.refuseConnections());
        HttpResponse<String> exhausted = fixture.send(post(generate(base(proxy)), gen("third")));
        assertThat(exhausted.statusCode()).as("our 502 or 503, no host answered").isIn(502, 503);
        assertThat(exhausted.headers().firstValue("X-Failover-Host")).isEmpty();
    }

    @Test
    void queuePositionsAreTheOrderInWhichQueuedRequestsReachTheHost() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest")
                .tokens(Collections.nCopies(200, " t")).tokenDelay(Duration.ofMillis(20)));
        StringBuilder keys = new StringBuilder("auth:\n  keys:\n");
        for (String client : CLIENTS) {
            keys.append("    - {client_id: ").append(client).append(", key: ").append(key(client))
                    .append(", max_priority: high}\n");
        }
        keys.append("    - {client_id: holder, key: ").append(key("holder")).append("}\n");
        QueueProxy proxy = fixture.start(ollama, 1, keys.toString());
        URI generate = generate(base(proxy));

        // Holds the one slot about 3 s, while the others queue.
        var blocker = fixture.sendAsync(post(generate, gen("blocker", 150), auth("holder")));
        ollama.awaitRequests(1, WAIT);
        // Submitted one by one, each queued before the next: a high request, two clients taking turns in normal,
        // and a low one last. Each position counts what is ahead of it when it was queued.
        List<String[]> plan = List.of(new String[] {"dave", "high"}, new String[] {"alice", "normal"},
                new String[] {"bob", "normal"}, new String[] {"alice", "normal"}, new String[] {"bob", "normal"},
                new String[] {"carol", "low"});
        List<String> submitted = new ArrayList<>();
        List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
        for (int i = 0; i < plan.size(); i++) {
            String name = plan.get(i)[0] + "-" + i;
            submitted.add(name);
            String[] headers = {"Authorization", "Bearer " + key(plan.get(i)[0]), "X-Queue-Priority", plan.get(i)[1]};
            responses.add(fixture.sendAsync(post(generate, gen(name, 1), headers)));
            int depth = i + 1;
            await().atMost(WAIT).pollInterval(Duration.ofMillis(5))
                    .until(() -> proxy.scheduler().snapshot().totalDepth() == depth);
        }

        HttpResponse<String> held = done(blocker);
        Map<String, Integer> positions = new HashMap<>();
        for (int i = 0; i < responses.size(); i++) {
            HttpResponse<String> response = done(responses.get(i));
            assertThat(response.statusCode()).isEqualTo(200);
            positions.put(submitted.get(i), Integer.parseInt(response.headers().firstValue("X-Queue-Position")
                    .orElseThrow()));
        }
        List<String> arrived = new ArrayList<>();
        for (RecordedRequest r : ollama.requests()) {
            if (r.path().equals("/api/generate") && !r.bodyJson().get("prompt").asText().equals("blocker")) {
                arrived.add(r.bodyJson().get("prompt").asText());
            }
        }
        List<String> byPosition = new ArrayList<>(positions.keySet());
        byPosition.sort((x, y) -> Integer.compare(positions.get(x), positions.get(y)));

        assertThat(arrived).as("the order the host saw").containsExactlyElementsOf(byPosition);
        assertThat(byPosition.stream().map(positions::get).toList()).containsExactly(1, 2, 3, 4, 5, 6);
        assertThat(held.headers().firstValue("X-Queue-Position")).as("the blocker never waited").isEmpty();
        HttpResponse<String> idle = fixture.send(post(generate, gen("idle", 1), auth("alice")));
        assertThat(idle.headers().firstValue("X-Queue-Position")).as("nothing ahead: it never waited").isEmpty();
    }

    @Test
    void metricsThePythonToolHadKeepItsLabelNamesAndCapWaitingExists() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest", "all-minilm:latest")
                .tokens(Collections.nCopies(200, " t")).tokenDelay(Duration.ofMillis(10)));
        QueueProxy proxy = fixture.start(ollama, 2, """
                auth:
                  keys:
                    - {client_id: capped, key: %s, max_concurrent: 1}
                    - {client_id: reader, key: %s, scope: read}
                embedding_cache:
                  backend: memory
                admin:
                  metrics_public: true
                """.formatted(key("capped"), key("reader")));
        Host host = proxy.fleet().hosts().get(0);
        await().atMost(WAIT).until(() -> host.inventory().syncedAt() != null && host.health() == Host.Health.HEALTHY);
        URI embed = base(proxy).resolve("/api/embed");
        String embedding = "{\"model\":\"all-minilm\",\"input\":[\"alpha\"]}";
        assertThat(fixture.send(post(embed, embedding, auth("capped"))).statusCode()).isEqualTo(200);
        await().atMost(WAIT).until(() -> proxy.cache().storesEnded() == 1);
        HttpResponse<String> hit = fixture.send(post(embed, embedding, auth("capped")));
        assertThat(hit.headers().firstValue("X-Cache")).hasValue("HIT");
        assertThat(hit.headers().firstValue("X-Failover-Host")).as("no host answered a cache hit").isEmpty();

        var first = fixture.sendAsync(post(generate(base(proxy)), gen("first", 60), auth("capped")));
        ollama.awaitRequests(2, WAIT);
        var second = fixture.sendAsync(post(generate(base(proxy)), gen("second", 1), auth("capped")));
        await().atMost(WAIT).until(() -> proxy.scheduler().snapshot().totalDepth() == 1);
        List<Map<String, String>> waiting = series(metrics(proxy), "oqp_client_cap_waiting");
        assertThat(done(first).statusCode()).isEqualTo(200);
        assertThat(done(second).statusCode()).isEqualTo(200);
        await().atMost(WAIT).until(() -> proxy.pool().inFlight() == 0);
        String scrape = metrics(proxy);

        assertThat(waiting).as("the capped client's second request waits on its cap; reader has no cap")
                .containsExactly(Map.of("client_id", "capped", "client", "capped", "value", "1.0"));
        // A Python-era query selects by these label names: each series carries them (oqp's own may come beside).
        Map<String, List<String>> python = Map.of(
                "oqp_host_healthy", List.of("name"),
                "oqp_host_requests_total", List.of("name"),
                "oqp_host_failures_total", List.of("name"),
                "oqp_host_models_installed", List.of("host"),
                "oqp_client_inflight", List.of("client_id"),
                "oqp_embedding_cache_hits_total", List.of("client", "model", "endpoint"),
                "oqp_embedding_cache_misses_total", List.of("client", "model", "endpoint"),
                "oqp_queue_depth", List.of("tier"),
                "oqp_queue_processed_total", List.of("tier"),
                "oqp_queue_expired_total", List.of("tier"));
        python.forEach((metric, labels) -> {
            List<Map<String, String>> found = series(scrape, metric);
            assertThat(found).as(metric).isNotEmpty();
            for (Map<String, String> s : found) {
                assertThat(s).as(metric).containsKeys(labels.toArray(String[]::new));
            }
        });
        assertThat(series(scrape, "oqp_host_healthy")).containsExactly(
                Map.of("name", "gpu-1", "host", "gpu-1", "value", "1.0"));
        assertThat(series(scrape, "oqp_host_requests_total")).containsExactly(
                Map.of("name", "gpu-1", "host", "gpu-1", "value", "3.0"));
        assertThat(series(scrape, "oqp_client_inflight")).contains(
                Map.of("client_id", "capped", "client", "capped", "value", "0.0"));
        assertThat(series(scrape, "oqp_embedding_cache_hits_total")).containsExactly(
                Map.of("client", "capped", "model", "all-minilm:latest", "endpoint", "/api/embed", "value", "1.0"));
        assertThat(series(scrape, "oqp_embedding_cache_misses_total")).containsExactly(
                Map.of("client", "capped", "model", "all-minilm:latest", "endpoint", "/api/embed", "value", "1.0"));
        assertThat(series(scrape, "oqp_client_cap_waiting")).containsExactly(
                Map.of("client_id", "capped", "client", "capped", "value", "0.0"));
    }

    /** The series of {@code metric} in a scrape, each as its labels plus {@code value}. */
    private static List<Map<String, String>> series(String scrape, String metric) {
        List<Map<String, String>> out = new ArrayList<>();
        for (String line : scrape.split("\n")) {
            Matcher m = SERIES.matcher(line);
            if (!m.matches() || !m.group(1).equals(metric)) {
                continue;
            }
            Map<String, String> labels = new HashMap<>();
            Matcher l = LABEL.matcher(m.group(2));
            while (l.find()) {
                labels.put(l.group(1), l.group(2));
            }
            labels.put("value", m.group(3));
            out.add(labels);
        }
        return out;
    }

    private String metrics(QueueProxy proxy) throws Exception {
        HttpResponse<String> response = fixture.send(get(base(proxy).resolve("/metrics")));
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }

    private static String key(String client) {
        return client + "-key-0123456789abcdef";
    }

    private static String[] auth(String client) {
        return new String[] {"Authorization", "Bearer " + key(client)};
    }

    private static URI generate(URI base) {
        return base.resolve("/api/generate");
    }

    private static String gen(String prompt) {
        return gen(prompt, 1);
    }

    private static String gen(String prompt, int tokens) {
        return "{\"model\":\"llama3\",\"prompt\":\"" + prompt + "\",\"stream\":false,\"options\":{\"num_predict\":"
                + tokens + "}}";
    }

    private static HttpResponse<String> done(CompletableFuture<HttpResponse<String>> response) throws Exception {
        return response.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }
}
