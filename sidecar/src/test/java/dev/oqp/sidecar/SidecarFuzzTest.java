package dev.oqp.sidecar;

import static dev.oqp.sidecar.SidecarFixture.service;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.LogCapture;
import dev.oqp.common.testing.MalformedRequests;
import org.junit.jupiter.api.Test;

/**
 * A seeded fuzz run of malformed requests against the sidecar: none gets a 5xx the proxy made itself, each gets an
 * answer or a clean close, and no log line holds more than a small bound of what the client sent.
 */
class SidecarFuzzTest {
    private static final long SEED = 20261206L;
    private static final int REQUESTS = 300;
    /** The most client text a log line may hold. */
    private static final int LOG_BOUND = 128;

    @Test
    void malformedRequestsGetA4xxOrACleanCloseAndNeverFillTheLog() throws Exception {
        List<String> problems = new ArrayList<>();
        try (SidecarFixture fixture = new SidecarFixture();
             FakeOllama ollama = FakeOllama.builder().installed("llama3:latest").start();
             LogCapture capture = LogCapture.start()) {
            Sidecar sidecar = fixture.start(service("fuzz", ollama.baseUri(), "max_body: 64KiB", "timeout: 5s",
                    "headers:", "  Authorization: \"Bearer ${KEY}\""), Map.of("KEY", "sidecar-secret-0123456789"));
            int port = sidecar.port("fuzz");
            for (MalformedRequests.Case c : new MalformedRequests(SEED, null).cases(REQUESTS)) {
                MalformedRequests.Outcome outcome = MalformedRequests.send(port, c, 10_000);
                // 505 is HTTP's own answer to a version it does not speak (the parser's, not a failure of the proxy).
                if (outcome.status() >= 500 && outcome.status() != 505
                        || outcome.status() == MalformedRequests.Outcome.SILENT) {
                    problems.add(outcome.name() + " -> " + outcome.firstLine() + " (" + outcome.status() + ")");
                }
            }
            assertThat(problems).as("requests answered 5xx by the proxy, or never answered nor closed").isEmpty();
            await().atMost(Duration.ofSeconds(5)).until(() -> !capture.lines().isEmpty());
            assertThat(capture.lines().stream().filter(line -> MalformedRequests.holdsMarker(line, LOG_BOUND)).toList())
                    .as("log lines holding more than " + LOG_BOUND + " characters of client text").isEmpty();
        }
    }
}
