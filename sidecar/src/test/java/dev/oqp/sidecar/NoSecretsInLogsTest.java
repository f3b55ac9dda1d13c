package dev.oqp.sidecar;

import static dev.oqp.sidecar.SidecarFixture.base;
import static dev.oqp.sidecar.SidecarFixture.service;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.util.List;
import java.util.Map;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.Fault;
import dev.oqp.common.testing.LogCapture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** No configured header value ever reaches a log line, at any level, on success or failure paths. */
class NoSecretsInLogsTest {
    private static final String SECRET = "sk-do-not-log-4f2a9c";
    private static final String OTHER_SECRET = "another-hidden-value-77";

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
    void configuredHeaderValuesNeverAppearInLogOutput() throws Exception {
        try (SidecarFixture fixture = new SidecarFixture();
             FakeOllama ollama = FakeOllama.builder().installed("llama3:latest").start()) {
            Sidecar sidecar = fixture.start(service("agent", ollama.baseUri(),
                    "max_body: 1KiB", "timeout: 300ms",
                    "headers:", "  Authorization: \"Bearer ${KEY}\"", "  X-Api-Key: " + OTHER_SECRET),
                    Map.of("KEY", SECRET));
            URI base = base(sidecar, "agent");

            fixture.post(base.resolve("/api/generate"), "{\"model\":\"llama3\",\"prompt\":\"hi\"}");
            fixture.post(base.resolve("/api/generate"), "{\"model\":\"llama3\",\"prompt\":\"" + "x".repeat(4096) + "\"}");
            ollama.fault(Fault.stallAfterLines(0));
            fixture.post(base.resolve("/api/generate"), "{\"model\":\"llama3\",\"prompt\":\"hi\"}");
            ollama.fault(Fault.status(500, "boom"));
            fixture.get(base.resolve("/api/tags"));
            ollama.fault(Fault.refuseConnections());
            fixture.get(base.resolve("/api/tags"));
        }

        List<String> lines = capture.lines();
        assertThat(lines).as("something was logged").anyMatch(line -> line.contains("\"path\":\"/api/generate\""));
        assertThat(lines).noneMatch(line -> line.contains(SECRET) || line.contains(OTHER_SECRET));
    }
}
