package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.NodeClients;
import dev.oqp.common.testing.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The official {@code ollama} and {@code openai} npm clients (versions pinned in {@code clients/package-lock.json})
 * against the queue proxy with auth on and the fake Ollama behind it: chat streaming, generate, embed (with
 * cache hits and a partial batch), list, ps, show, pull with a management key; OpenAI chat streaming over
 * SSE, embeddings (the SDK asks for base64), models. The scripts are {@code clients/test/*.test.mjs}.
 */
class RealClientsTest {
    private static final String APP_KEY = "app-key-0123456789abcdef";
    private static final String ADMIN_KEY = "admin-key-0123456789abcdef";

    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    @Test
    void officialOllamaAndOpenAiClientsWorkThroughTheQueueProxy() throws Exception {
        NodeClients.require();
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().loaded("llama3:latest", "all-minilm:latest")
                .pullable("tinyllama:latest"));
        QueueProxy proxy = fixture.start(ollama, 2, "auth:\n  keys:\n"
                + "    - {client_id: app, key: " + APP_KEY + "}\n"
                + "    - {client_id: admin, key: " + ADMIN_KEY + ", scope: management}\n");

        NodeClients.Result result = NodeClients.node(Map.of("OQP_URL", base(proxy).toString(), "OQP_KEY", APP_KEY,
                "OQP_ADMIN_KEY", ADMIN_KEY), 120, "--test", "--test-reporter=spec", "test/ollama.test.mjs",
                "test/openai.test.mjs");

        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output()).contains("pass 9", "fail 0");
        // What reached Ollama: never the client's key; the cache answered the repeated embeddings.
        for (RecordedRequest r : ollama.requests()) {
            assertThat(r.header("Authorization")).as(r.path()).isNull();
        }
        long embeds = ollama.requests().stream().filter(r -> r.path().equals("/api/embed")).count();
        assertThat(embeds).as("first batch, then only the partial batch's new item").isEqualTo(2);
        assertThat(ollama.requests().stream().filter(r -> r.path().equals("/api/pull")).count()).isEqualTo(1);
    }
}
