package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.get;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.queue.cache.RedisFixture;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Three queue proxies with the same {@code coordination.backend} (one local Valkey or Redis) and one fake Ollama:
 * rate limits hold over the three together, {@code GET /usage} read from any one sums what the host answered and
 * survives a restart, and without the backend each replica limits to its share, counted, until it returns.
 */
class SharedLimitsEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String AGENT = "agent-key-0123456789abcdef";
    private static final String CHAT = "chat-key-0123456789abcdef";
    private static final String ADMIN = "admin-key-0123456789abcdef";
    /** How long the rate limiter keeps to its share after a failure before it tries the backend again. */
    private static final long PROBE_MILLIS = 1000;
    /** Completion tokens per answer (and one prompt word per request below). */
    private static final int TOKENS = 50;

    private final QueueFixture fixture = new QueueFixture();
    private RedisFixture redis;
    private FakeOllama ollama;
    /** One key space per test, in case OQP_TEST_REDIS_URL names a server the tests share. */
    private final String prefix = "oqp:test:" + UUID.randomUUID() + ":";

    @BeforeEach
    void setUp() {
        redis = RedisFixture.start();
        ollama = fixture.ollama(FakeOllama.builder().loaded("llama3:latest").tokens(Collections.nCopies(TOKENS, " t"))
                .tokenDelay(Duration.ZERO));
    }

    @AfterEach
    void tearDown() {
        fixture.close();
        if (redis != null) {
            redis.close();
        }
    }

    private QueueProxy replica(String id, String agentLimits) throws Exception {
        return fixture.start(ollama, 8, "auth:\n  keys:\n"
                + "    - {client_id: agent, key: " + AGENT + agentLimits + "}\n"
                + "    - {client_id: chat, key: " + CHAT + "}\n"
                + "    - {client_id: admin, key: " + ADMIN + ", scope: management}\n"
                + "coordination:\n  backend: \"" + redis.url() + "\"\n  replica_id: " + id + "\n  key_prefix: \""
                + prefix + "\"\n  timeout: 300ms\n");
    }

    private List<QueueProxy> replicas(String agentLimits) throws Exception {
        List<QueueProxy> out = new ArrayList<>();
        for (String id : List.of("a", "b", "c")) {
            out.add(replica(id, agentLimits));
        }
        return out;
    }

    private HttpResponse<String> generate(QueueProxy proxy, String key, String prompt) throws Exception {
        return fixture.send(post(base(proxy).resolve("/api/generate"), QueueFixture.generate("llama3", prompt),
                "Authorization", "Bearer " + key));
    }

    private JsonNode usage(QueueProxy proxy) throws Exception {
        return JSON.readTree(fixture.send(get(base(proxy).resolve("/usage"), "Authorization", "Bearer " + ADMIN)).body());
    }

    private double degraded(QueueProxy proxy, String what) throws Exception {
        String metrics = fixture.send(get(base(proxy).resolve("/metrics"), "Authorization", "Bearer " + ADMIN)).body();
        String series = "oqp_coordination_degraded_decisions_total{what=\"" + what + "\"} ";
        return metrics.lines().filter(l -> l.startsWith(series)).mapToDouble(l -> Double.parseDouble(
                l.substring(series.length()))).sum();
    }

    @Test
    void tenRequestsPerMinuteAdmitExactlyTenOverThreeReplicas() throws Exception {
        List<QueueProxy> proxies = replicas(", requests_per_minute: 10");
        for (QueueProxy p : proxies) {
            // Warmed up by a client without limits, so that the thirty below fit well within one refill (6 s).
            assertThat(generate(p, CHAT, "warm-up").statusCode()).isEqualTo(200);
        }
        int ok = 0;
        int refused = 0;
        long start = System.nanoTime();
        for (int i = 0; i < 30; i++) {
            HttpResponse<String> r = generate(proxies.get(i % 3), AGENT, "r" + i);
            if (r.statusCode() == 200) {
                ok++;
            } else {
                assertThat(r.statusCode()).isEqualTo(429);
                assertThat(r.headers().firstValue("Retry-After")).as("request " + i).isPresent();
                assertThat(r.body()).contains("requests_per_minute");
                refused++;
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("requests_per_minute 10 over 3 replicas: %d admitted, %d refused in %.2f s%n", ok, refused,
                seconds);
        assertThat(seconds).as("one request refills every 6 s").isLessThan(6);
        assertThat(ok).isEqualTo(10);
        assertThat(refused).isEqualTo(20);
        assertThat(ollama.requests().stream().filter(r -> r.path().equals("/api/generate")
                && r.bodyJson().get("prompt").asText().startsWith("r")).count()).as("what reached the host").isEqualTo(10);
    }

    @Test
    void aTokensPerMinuteLimitHoldsAcrossReplicas() throws Exception {
        long limit = 300;
        List<QueueProxy> proxies = replicas(", tokens_per_minute: " + limit);
        long perRequest = TOKENS + 1;
        long admittedTokens = 0;
        int admitted = 0;
        long start = System.nanoTime();
        for (int i = 0; i < 30; i++) {
            HttpResponse<String> r = generate(proxies.get(i % 3), AGENT, "t" + i);
            if (r.statusCode() == 200) {
                JsonNode a = JSON.readTree(r.body());
                assertThat(a.get("prompt_eval_count").asLong() + a.get("eval_count").asLong()).isEqualTo(perRequest);
                admitted++;
                admittedTokens += perRequest;
            } else {
                assertThat(r.statusCode()).isEqualTo(429);
                assertThat(r.body()).contains("tokens_per_minute");
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        double refilled = seconds * limit / 60;
        System.out.printf("tokens_per_minute %d over 3 replicas: %d requests admitted, %d tokens (%d over the limit;"
                + " one request is %d tokens, %.1f refilled in %.2f s)%n", limit, admitted, admittedTokens,
                admittedTokens - limit, perRequest, refilled, seconds);
        assertThat(admittedTokens).as("within one request's overdraw (plus the refill)")
                .isLessThanOrEqualTo(limit + perRequest + (long) Math.ceil(refilled));
        assertThat(admittedTokens).as("the limit is used, not a third of it").isGreaterThan(limit / 2);
    }

    @Test
    void usageSumsOverReplicasEqualsWhatTheHostCountedAndSurvivesARestart() throws Exception {
        List<QueueProxy> proxies = replicas("");
        long prompt = 0;
        long completion = 0;
        for (int i = 0; i < 12; i++) {
            JsonNode a = JSON.readTree(generate(proxies.get(i % 3), i % 4 == 0 ? CHAT : AGENT, "u" + i).body());
            prompt += a.get("prompt_eval_count").asLong();
            completion += a.get("eval_count").asLong();
        }
        List<RecordedRequest> served = ollama.requests().stream().filter(r -> r.path().equals("/api/generate")).toList();
        long hostPrompt = served.stream().mapToLong(r -> r.bodyJson().get("prompt").asText().split("\\s+").length).sum();
        assertThat(served).hasSize(12);
        assertThat(prompt).isEqualTo(hostPrompt);
        assertThat(completion).isEqualTo(12L * TOKENS);

        JsonNode fromC = awaitUsage(proxies.get(2), 12);
        assertThat(fromC.get("partial").asBoolean()).isFalse();
        assertThat(total(fromC, "requests")).isEqualTo(12);
        assertThat(total(fromC, "prompt_tokens")).isEqualTo(hostPrompt);
        assertThat(total(fromC, "completion_tokens")).isEqualTo(completion);
        assertThat(fromC.at("/clients").findValuesAsText("client_id")).containsExactly("agent", "chat");
        JsonNode agent = fromC.get("clients").get(0);
        assertThat(agent.at("/total/requests").asLong()).isEqualTo(9);
        assertThat(agent.at("/models/llama3:latest/requests").asLong()).isEqualTo(9);
        assertThat(agent.get("days")).hasSize(1);
        // A client's own key sees its own usage only, summed over the replicas too.
        JsonNode mine = JSON.readTree(fixture.send(get(base(proxies.get(0)).resolve("/usage"), "Authorization",
                "Bearer " + CHAT)).body());
        assertThat(mine.get("clients")).hasSize(1);
        assertThat(mine.at("/clients/0/total/requests").asLong()).isEqualTo(3);

        proxies.get(1).stop();
        QueueProxy restarted = replica("b", "");
        JsonNode afterRestart = usage(restarted);
        assertThat(total(afterRestart, "requests")).as("a restarted replica reads what all of them counted").isEqualTo(12);
        assertThat(total(afterRestart, "completion_tokens")).isEqualTo(completion);
    }

    private JsonNode awaitUsage(QueueProxy proxy, long requests) {
        // Writes are fire-and-forget: the last one may land just after its answer.
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> total(usage(proxy), "requests") == requests);
        try {
            return usage(proxy);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static long total(JsonNode usage, String counter) {
        long sum = 0;
        for (JsonNode client : usage.get("clients")) {
            sum += client.at("/total/" + counter).asLong();
        }
        return sum;
    }

    @Test
    void withoutTheBackendEachReplicaLimitsToItsShareUntilItReturns() throws Exception {
        Assumptions.assumeTrue(redis.controllable(), "needs a server the test can stop");
        List<QueueProxy> proxies = replicas(", requests_per_minute: 9");
        // Each replica knows the three from their heartbeats: its share is a third.
        proxies.forEach(p -> Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> p.coordination().lastLive() == 3));
        redis.kill();

        int[] admitted = new int[3];
        for (int i = 0; i < 30; i++) {
            HttpResponse<String> r = generate(proxies.get(i % 3), AGENT, "d" + i);
            assertThat(r.statusCode()).isIn(200, 429);
            if (r.statusCode() == 200) {
                admitted[i % 3]++;
            } else {
                assertThat(r.headers().firstValue("Retry-After")).isPresent();
            }
        }
        System.out.printf("requests_per_minute 9, backend down, 3 replicas: admitted %d, %d, %d%n", admitted[0],
                admitted[1], admitted[2]);
        for (int i = 0; i < 3; i++) {
            assertThat(admitted[i]).as("replica " + i + " on its share, 9 / 3").isEqualTo(3);
            assertThat(degraded(proxies.get(i), "rate_limit")).as("replica " + i + " counts its degraded decisions")
                    .isEqualTo(10);
        }
        JsonNode partial = usage(proxies.get(0));
        assertThat(partial.get("partial").asBoolean()).as("/usage says it is one replica's only").isTrue();
        assertThat(total(partial, "requests")).isEqualTo(3);
        assertThat(degraded(proxies.get(0), "usage_write")).isPositive();

        redis.restart();
        long back = System.nanoTime();
        QueueProxy a = proxies.get(0);
        Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
                .until(() -> !usage(a).get("partial").asBoolean());
        // The rate limiter tries the backend again within a second of its last failure.
        Thread.sleep(PROBE_MILLIS + 100);
        System.out.printf("backend back: shared state in use again after %.1f s%n", (System.nanoTime() - back) / 1e9);
        double before = degraded(a, "rate_limit");
        int sharedAdmitted = 0;
        for (int i = 0; i < 12; i++) {
            if (generate(a, AGENT, "s" + i).statusCode() == 200) {
                sharedAdmitted++;
            }
        }
        // The restarted server kept nothing (no persistence): the shared bucket starts full, 9, all on one replica;
        // its own share would have given at most 3.
        assertThat(sharedAdmitted).isEqualTo(9);
        assertThat(degraded(a, "rate_limit")).isEqualTo(before);
    }

    @Test
    void aReplicaStartedWithoutTheBackendServesOnItsShareAndJoinsWhenItAnswers() throws Exception {
        Assumptions.assumeTrue(redis.controllable(), "needs a server the test can stop");
        redis.kill();
        QueueProxy lone = replica("a", ", requests_per_minute: 4");
        int admitted = 0;
        for (int i = 0; i < 5; i++) {
            admitted += generate(lone, AGENT, "early" + i).statusCode() == 200 ? 1 : 0;
        }
        // It has seen no other replica's heartbeat: its share is the whole limit, decided in memory.
        assertThat(lone.coordination().lastLive()).isEqualTo(1);
        assertThat(admitted).as("4 / 1 known replica, decided in memory").isEqualTo(4);
        assertThat(degraded(lone, "rate_limit")).isEqualTo(5);

        redis.restart();
        Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200))
                .until(() -> !usage(lone).get("partial").asBoolean());
        Thread.sleep(PROBE_MILLIS + 100);
        int shared = 0;
        for (int i = 0; i < 6; i++) {
            shared += generate(lone, AGENT, "late" + i).statusCode() == 200 ? 1 : 0;
        }
        assertThat(shared).as("the shared bucket, full: 4").isEqualTo(4);
        assertThat(degraded(lone, "rate_limit")).isEqualTo(5);
    }
}
