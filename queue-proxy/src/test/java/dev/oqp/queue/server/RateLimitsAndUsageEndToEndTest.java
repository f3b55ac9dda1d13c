package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.get;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.testing.FakeOllama;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Per-client rate limits (429 with Retry-After and X-RateLimit-* headers, other clients unaffected, tokens as
 * the upstream reported them) and {@code GET /usage} summing what the fake Ollama answered.
 */
class RateLimitsAndUsageEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String AGENT = "agent-key-0123456789abcdef";
    private static final String CHAT = "chat-key-0123456789abcdef";
    private static final String ADMIN = "admin-key-0123456789abcdef";

    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    private QueueProxy start(String agentLimits) throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().loaded("llama3:latest", "all-minilm:latest"));
        return fixture.start(ollama, 2, "auth:\n  keys:\n"
                + "    - {client_id: agent, key: " + AGENT + agentLimits + "}\n"
                + "    - {client_id: chat, key: " + CHAT + "}\n"
                + "    - {client_id: admin, key: " + ADMIN + ", scope: management}\n");
    }

    private HttpResponse<String> generate(QueueProxy proxy, String key, String prompt) throws Exception {
        return fixture.send(post(base(proxy).resolve("/api/generate"), QueueFixture.generate("llama3", prompt),
                "Authorization", "Bearer " + key));
    }

    @Test
    void aClientOverItsRequestsPerMinuteGets429WithRetryAfterAndOthersAreUnaffected() throws Exception {
        QueueProxy proxy = start(", requests_per_minute: 2");

        HttpResponse<String> first = generate(proxy, AGENT, "1");
        HttpResponse<String> second = generate(proxy, AGENT, "2");
        HttpResponse<String> third = generate(proxy, AGENT, "3");

        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(first.headers().firstValue("X-RateLimit-Limit-Requests")).hasValue("2");
        assertThat(first.headers().firstValue("X-RateLimit-Remaining-Requests")).hasValue("1");
        assertThat(second.statusCode()).isEqualTo(200);
        assertThat(third.statusCode()).isEqualTo(429);
        assertThat(third.headers().firstValue("Retry-After")).as("one request back every 30 s")
                .hasValueSatisfying(v -> assertThat(Long.parseLong(v)).isBetween(29L, 30L));
        assertThat(third.headers().firstValue("X-RateLimit-Remaining-Requests")).hasValue("0");
        assertThat(third.body()).contains("requests_per_minute");
        for (int i = 0; i < 5; i++) {
            HttpResponse<String> other = generate(proxy, CHAT, "c" + i);
            assertThat(other.statusCode()).as("chat has no limit").isEqualTo(200);
            assertThat(other.headers().firstValue("X-RateLimit-Limit-Requests")).isEmpty();
        }
        assertThat(fixture.send(get(base(proxy).resolve("/metrics"), "Authorization", "Bearer " + ADMIN)).body())
                .contains("oqp_rate_limited_total{client=\"agent\",limit=\"requests_per_minute\"} 1.0");
    }

    @Test
    void tokenLimitsUseTheCountsTheUpstreamReported() throws Exception {
        // 10 tokens a minute refill at 1 token per 6 s: negligible while the test runs.
        QueueProxy proxy = start(", tokens_per_minute: 10");
        HttpResponse<String> probe = generate(proxy, CHAT, "probe");
        JsonNode counts = JSON.readTree(probe.body());
        long perRequest = counts.get("prompt_eval_count").asLong() + counts.get("eval_count").asLong();
        assertThat(perRequest).isPositive();
        long admitted = 0;
        HttpResponse<String> last;
        do {
            last = generate(proxy, AGENT, "tokens");
            if (last.statusCode() == 200) {
                admitted++;
            }
        } while (last.statusCode() == 200 && admitted < 100);

        assertThat(last.statusCode()).isEqualTo(429);
        assertThat(last.body()).contains("tokens_per_minute");
        // Admitted while tokens were left: ceil(10 / perRequest) requests, the last one overdrawing the bucket.
        long expected = (10 + perRequest - 1) / perRequest;
        assertThat(admitted).isBetween(expected, 10 % perRequest == 0 ? expected + 1 : expected);
        long owed = admitted * perRequest - 10;
        long retry = Long.parseLong(last.headers().firstValue("Retry-After").orElseThrow());
        assertThat(retry).as("the overdraft plus one token, at one token per 6 s").isBetween(owed * 6, (owed + 1) * 6 + 1);
        assertThat(last.headers().firstValue("X-RateLimit-Limit-Tokens")).hasValue("10");
        assertThat(last.headers().firstValue("X-RateLimit-Remaining-Tokens")).hasValue("0");
    }

    @Test
    void aDailyTokenQuotaRefusesUntilTheNextUtcDay() throws Exception {
        QueueProxy proxy = start(", tokens_per_day: 1");
        assertThat(generate(proxy, AGENT, "once").statusCode()).isEqualTo(200);
        HttpResponse<String> refused = generate(proxy, AGENT, "twice");
        assertThat(refused.statusCode()).isEqualTo(429);
        assertThat(refused.body()).contains("tokens_per_day");
        assertThat(Long.parseLong(refused.headers().firstValue("Retry-After").orElseThrow())).isBetween(1L, 86_401L);
        assertThat(refused.headers().firstValue("X-RateLimit-Remaining-Tokens-Day")).hasValue("0");
    }

    @Test
    void usageSumsMatchWhatTheUpstreamReported() throws Exception {
        QueueProxy proxy = start("");
        List<JsonNode> answers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            answers.add(JSON.readTree(generate(proxy, AGENT, "usage " + i).body()));
        }
        String embed = "{\"model\":\"all-minilm\",\"input\":[\"a\",\"b\"]}";
        answers.add(JSON.readTree(fixture.send(post(base(proxy).resolve("/api/embed"), embed, "Authorization",
                "Bearer " + AGENT)).body()));
        HttpResponse<String> hit = fixture.send(post(base(proxy).resolve("/api/embed"), embed, "Authorization", "Bearer " + AGENT));
        assertThat(hit.headers().firstValue("X-Cache")).hasValue("HIT");
        generate(proxy, CHAT, "chat");
        long prompt = 0;
        long completion = 0;
        for (JsonNode a : answers) {
            prompt += a.path("prompt_eval_count").asLong();
            completion += a.path("eval_count").asLong();
        }

        JsonNode mine = JSON.readTree(fixture.send(get(base(proxy).resolve("/usage"), "Authorization", "Bearer " + AGENT)).body());
        JsonNode all = JSON.readTree(fixture.send(get(base(proxy).resolve("/usage"), "Authorization", "Bearer " + ADMIN)).body());

        assertThat(mine.get("clients")).as("a key sees only its own usage").hasSize(1);
        JsonNode agent = mine.get("clients").get(0);
        assertThat(agent.get("client_id").asText()).isEqualTo("agent");
        assertThat(agent.at("/total/requests").asLong()).isEqualTo(5);
        assertThat(agent.at("/total/prompt_tokens").asLong()).isEqualTo(prompt);
        assertThat(agent.at("/total/completion_tokens").asLong()).isEqualTo(completion);
        assertThat(agent.at("/total/cache_hits").asLong()).isEqualTo(2);
        assertThat(agent.at("/models/llama3:latest/requests").asLong()).isEqualTo(3);
        assertThat(agent.at("/models/all-minilm:latest/requests").asLong()).isEqualTo(2);
        assertThat(agent.get("days")).hasSize(1);
        assertThat(agent.get("days").elements().next().at("/total/requests").asLong()).isEqualTo(5);
        assertThat(all.get("clients")).as("management sees every client").hasSize(2);
        String metrics = fixture.send(get(base(proxy).resolve("/metrics"), "Authorization", "Bearer " + ADMIN)).body();
        assertThat(metrics).contains("oqp_usage_requests_total{client=\"agent\",model=\"llama3:latest\"} 3.0",
                "oqp_client_cache_hits_total{client=\"agent\"} 2.0");
    }

    @Test
    void aClientThatLeavesAStreamIsChargedTheTokensItReceived() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().loaded("llama3:latest")
                .tokens(Collections.nCopies(200, " t")).tokenDelay(Duration.ofMillis(20)));
        QueueProxy proxy = fixture.start(ollama, 2, "auth:\n  keys:\n"
                + "    - {client_id: agent, key: " + AGENT + ", tokens_per_minute: 5}\n"
                + "    - {client_id: admin, key: " + ADMIN + ", scope: management}\n");
        String body = "{\"model\":\"llama3\",\"prompt\":\"leave early\"}";
        int received = 0;
        try (Socket socket = new Socket("127.0.0.1", proxy.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("POST /api/generate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + AGENT
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.US_ASCII));
            var in = new BufferedReader(new InputStreamReader(socket.getInputStream(),
                    StandardCharsets.UTF_8));
            String line;
            while (received < 10 && (line = in.readLine()) != null) {
                if (line.contains("\"response\"")) {
                    received++;
                }
            }
        }
        assertThat(received).isEqualTo(10);

        // Charged at least the lines it read (and no more than the host streamed): over its 5 tokens a minute.
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() ->
                JSON.readTree(fixture.send(get(base(proxy).resolve("/usage"), "Authorization", "Bearer " + ADMIN)).body())
                        .at("/clients/0/total/completion_tokens").asLong() >= 10);
        long charged = JSON.readTree(fixture.send(get(base(proxy).resolve("/usage"), "Authorization", "Bearer " + ADMIN))
                .body()).at("/clients/0/total/completion_tokens").asLong();
        assertThat(charged).isBetween(10L, 199L);
        HttpResponse<String> next = generate(proxy, AGENT, "again");
        assertThat(next.statusCode()).isEqualTo(429);
        assertThat(next.body()).contains("tokens_per_minute");
    }

    @Test
    void aParallelBurstIsNotAllAdmittedOnOneFullTokenBucket() throws Exception {
        QueueProxy proxy = start(", tokens_per_minute: 300");
        List<CompletableFuture<HttpResponse<String>>> burst = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            burst.add(fixture.sendAsync(post(base(proxy).resolve("/api/generate"), QueueFixture.generate("llama3", "b" + i),
                    "Authorization", "Bearer " + AGENT)));
        }
        long admitted = 0;
        for (var f : burst) {
            int status = f.get(10, TimeUnit.SECONDS).statusCode();
            assertThat(status).isIn(200, 429);
            admitted += status == 200 ? 1 : 0;
        }
        // Each admitted request pre-pays an estimate (256 tokens before any answer): 300 covers two.
        assertThat(admitted).isBetween(1L, 2L);
    }
}
