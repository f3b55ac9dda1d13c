package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.get;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Collections;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.Target;
import dev.oqp.common.config.Tier;
import dev.oqp.common.testing.FakeOllama;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code queue.paused}: with {@code refuse} a new request to a paused tier is answered 503 at once, in the shape of
 * its API, while what already waits keeps waiting and is served once resumed; with {@code hold} (the default) it
 * waits; a reload switches between the two.
 */
class PausedTierEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(5);

    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    @Test
    void refuseAnswersANewRequestToAPausedTierAtOnceAndKeepsWhatWaits() throws Exception {
        FakeOllama ollama = fixture.ollama(fake());
        QueueProxy proxy = fixture.start(ollama, 1, "queue:\n  paused: refuse\n");
        var blocker = fixture.sendAsync(post(generate(proxy), gen("blocker", 100), "X-Queue-Priority", "normal"));
        ollama.awaitRequests(1, WAIT);
        var waiting = fixture.sendAsync(post(generate(proxy), gen("waiting", 1), "X-Queue-Priority", "low"));
        await().atMost(WAIT).until(() -> proxy.scheduler().snapshot().depth().get(Tier.LOW) == 1);
        proxy.scheduler().pause(Tier.LOW);

        HttpResponse<String> ollamaShape = fixture.send(post(generate(proxy), gen("refused", 1),
                "X-Queue-Priority", "low"));
        HttpResponse<String> openAiShape = fixture.send(post(base(proxy).resolve("/v1/chat/completions"),
                "{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"refused too\"}]}",
                "X-Queue-Priority", "low"));

        assertThat(ollamaShape.statusCode()).isEqualTo(503);
        assertThat(JSON.readTree(ollamaShape.body()).get("error").asText()).isEqualTo("queue tier 'low' is paused");
        assertThat(ollamaShape.headers().firstValue("Retry-After")).hasValue("30");
        assertThat(openAiShape.statusCode()).isEqualTo(503);
        JsonNode error = JSON.readTree(openAiShape.body()).get("error");
        assertThat(error.get("message").asText()).isEqualTo("queue tier 'low' is paused");
        assertThat(openAiShape.headers().firstValue("Retry-After")).hasValue("30");
        assertThat(waiting).as("the request queued before the pause still waits").isNotDone();
        assertThat(proxy.scheduler().snapshot().depth().get(Tier.LOW)).isEqualTo(1);
        assertThat(metrics(proxy)).contains("oqp_queue_rejected_total{reason=\"paused\",tier=\"low\"} 2.0");

        proxy.scheduler().resume(Tier.LOW);
        assertThat(blocker.get(WAIT.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(waiting.get(WAIT.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(ollama.requests()).extracting(r -> r.bodyJson().path("prompt").asText())
                .containsExactly("blocker", "waiting");
    }

    @Test
    void holdQueuesANewRequestToAPausedTierAndAReloadToRefuseRefusesTheNextOne() throws Exception {
        FakeOllama ollama = fixture.ollama(fake());
        QueueProxy proxy = fixture.start(ollama, 1, "");
        proxy.scheduler().pause(Tier.LOW);

        CompletableFuture<HttpResponse<String>> held = fixture.sendAsync(post(generate(proxy), gen("held", 1),
                "X-Queue-Priority", "low"));
        await().atMost(WAIT).until(() -> proxy.scheduler().snapshot().depth().get(Tier.LOW) == 1);
        proxy.reload(ConfigLoader.parse("queue:\n  paused: refuse\nollama:\n  hosts:\n    - name: gpu-1\n      url: "
                + ollama.baseUri() + "\n      max_concurrent: 1\nlogging:\n  level: warn\n  access_log: false\n",
                Target.QUEUE_PROXY, Map.of()));
        HttpResponse<String> refused = fixture.send(post(generate(proxy), gen("refused", 1), "X-Queue-Priority", "low"));

        assertThat(refused.statusCode()).isEqualTo(503);
        assertThat(held).as("held before the reload: still waiting").isNotDone();
        proxy.scheduler().resume(Tier.LOW);
        assertThat(held.get(WAIT.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(ollama.requests()).extracting(r -> r.bodyJson().path("prompt").asText()).containsExactly("held");
    }

    private static FakeOllama.Builder fake() {
        return FakeOllama.builder().installed("llama3:latest").tokens(Collections.nCopies(100, " t"))
                .tokenDelay(Duration.ofMillis(10));
    }

    private static URI generate(QueueProxy proxy) {
        return base(proxy).resolve("/api/generate");
    }

    private static String gen(String prompt, int tokens) {
        return "{\"model\":\"llama3\",\"prompt\":\"" + prompt + "\",\"stream\":false,\"options\":{\"num_predict\":"
                + tokens + "}}";
    }

    private String metrics(QueueProxy proxy) throws Exception {
        HttpResponse<String> response = fixture.send(get(base(proxy).resolve("/metrics")));
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }
}
