package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.get;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.Fault;
import dev.oqp.common.testing.LogCapture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** No key, injected header value or prompt ever reaches a log line, at any level, on success or failure paths. */
class NoSecretsOrPromptsInLogsTest {
    private static final String KEY = "sk-client-key-do-not-log-1";
    private static final String HOST_SECRET = "host-secret-do-not-log-2";
    private static final String WRONG_KEY = "wrong-key-do-not-log-3";
    private static final String PROMPT = "secret-prompt-text-do-not-log";

    private LogCapture capture;

    @BeforeEach
    void captureEverything() {
        capture = LogCapture.start();
    }

    @AfterEach
    void restore() {
        capture.close();
    }

    @Test
    void keysHostHeadersAndPromptsNeverAppearInLogOutput() throws Exception {
        try (QueueFixture fixture = new QueueFixture()) {
            FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
            QueueProxy proxy = fixture.start(ollama, 1, """
                    proxy:
                      max_body: 1KiB
                      drain_timeout: 1s
                    ollama:
                      hosts:
                        - name: gpu-1
                          url: %s
                          max_concurrent: 1
                          headers:
                            X-Upstream-Token: "${HOST_SECRET}"
                    auth:
                      keys:
                        - client_id: app
                          key: "${KEY}"
                    logging:
                      level: trace
                      access_log: true
                    """.formatted(ollama.baseUri()), Map.of("KEY", KEY, "HOST_SECRET", HOST_SECRET));
            var api = base(proxy);
            String body = "{\"model\":\"llama3\",\"prompt\":\"" + PROMPT + "\",\"stream\":false}";

            fixture.send(post(api.resolve("/api/generate"), body, "Authorization", "Bearer " + KEY));
            fixture.send(post(api.resolve("/api/generate"), body, "Authorization", "Bearer " + WRONG_KEY));
            fixture.send(post(api.resolve("/api/generate"), "{\"model\":\"llama3\",\"prompt\":\"" + PROMPT
                    + "x".repeat(2048) + "\"}", "Authorization", "Bearer " + KEY));
            fixture.send(post(api.resolve("/api/generate"), PROMPT, "Authorization", "Bearer " + KEY));
            ollama.fault(Fault.status(500, "boom"));
            fixture.send(post(api.resolve("/api/generate"), body, "Authorization", "Bearer " + KEY));
            ollama.fault(Fault.refuseConnections());
            fixture.send(post(api.resolve("/api/chat"), body, "Authorization", "Bearer " + KEY));
            fixture.send(get(api.resolve("/api/tags"), "Authorization", "Bearer " + KEY));
        }

        List<String> lines = capture.lines();
        assertThat(lines).as("something was logged").anyMatch(line -> line.contains("\"path\":\"/api/generate\""));
        assertThat(lines).noneMatch(line -> line.contains(KEY) || line.contains(HOST_SECRET)
                || line.contains(WRONG_KEY) || line.contains(PROMPT));
    }
}
