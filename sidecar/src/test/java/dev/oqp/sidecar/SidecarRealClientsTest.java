package dev.oqp.sidecar;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.util.Map;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.NodeClients;
import dev.oqp.common.testing.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The official {@code ollama} and {@code openai} npm clients through a sidecar port that injects the key, with
 * the fake Ollama behind it: the clients send no key of their own (the OpenAI SDK sends a placeholder, which the
 * sidecar replaces). The scripts are {@code clients/test/*.test.mjs}, shared with the queue proxy's test.
 */
class SidecarRealClientsTest {
    private final SidecarFixture fixture = new SidecarFixture();
    private FakeOllama ollama;

    @AfterEach
    void tearDown() throws Exception {
        fixture.close();
        if (ollama != null) {
            ollama.stop();
        }
    }

    @Test
    void officialOllamaAndOpenAiClientsWorkThroughTheSidecar() throws Exception {
        NodeClients.require();
        ollama = FakeOllama.builder().loaded("llama3:latest", "all-minilm:latest").pullable("tinyllama:latest").start();
        Sidecar sidecar = fixture.start(SidecarFixture.service("clients", ollama.baseUri(),
                "headers: {Authorization: 'Bearer injected-key-0123456789'}"));
        URI base = SidecarFixture.base(sidecar, "clients");

        NodeClients.Result result = NodeClients.node(Map.of("OQP_URL", base.toString()), 120, "--test",
                "--test-reporter=spec", "test/ollama.test.mjs", "test/openai.test.mjs");

        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output()).contains("pass 9", "fail 0");
        for (RecordedRequest r : ollama.requests()) {
            if (!r.probe()) {
                assertThat(r.header("Authorization")).as(r.path()).isEqualTo("Bearer injected-key-0123456789");
                assertThat(r.header("X-Client-Name")).isEqualTo("clients");
            }
        }
    }
}
