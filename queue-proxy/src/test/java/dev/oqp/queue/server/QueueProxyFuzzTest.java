package dev.oqp.queue.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.LogCapture;
import dev.oqp.common.testing.MalformedRequests;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A seeded fuzz run of malformed requests against the queue proxy, half of them with a valid key so they reach what
 * lies behind authentication: none gets a 5xx the proxy made itself (the fake upstream is healthy), each gets an
 * answer or a clean close, no host is counted as failed, and no log line holds more than a small bound of what the
 * client sent.
 */
class QueueProxyFuzzTest {
    private static final long SEED = 20261206L;
    private static final int REQUESTS = 300;
    /** The most client text a log line may hold. */
    private static final int LOG_BOUND = 128;

    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    @Test
    void malformedRequestsGetA4xxOrACleanCloseAndNeverFillTheLog() throws Exception {
        List<String> problems = new ArrayList<>();
        try (LogCapture capture = LogCapture.start()) {
            FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest").loaded("llama3:latest"));
            QueueProxy proxy = fixture.start(ollama, 4, QueueProxyTest.KEYS
                    + "proxy: {port: 11436, max_body: 64KiB, drain_timeout: 1s}\n"
                    + "logging: {level: info, access_log: true}\n");
            for (MalformedRequests.Case c : new MalformedRequests(SEED, QueueProxyTest.KEY_ADMIN).cases(REQUESTS)) {
                MalformedRequests.Outcome outcome = MalformedRequests.send(proxy.port(), c, 10_000);
                // 505 is HTTP's own answer to a version it does not speak (the parser's, not a failure of the proxy).
                if (outcome.status() >= 500 && outcome.status() != 505
                        || outcome.status() == MalformedRequests.Outcome.SILENT) {
                    problems.add(outcome.name() + " -> " + outcome.firstLine() + " (" + outcome.status() + ")");
                }
            }
            assertThat(problems).as("requests answered 5xx by the proxy, or never answered nor closed").isEmpty();
            assertThat(proxy.fleet().hosts()).allSatisfy(host -> assertThat(host.usable()).as(host.name()).isTrue());
            await().atMost(Duration.ofSeconds(5)).until(() -> !capture.lines().isEmpty());
            assertThat(capture.lines().stream().filter(line -> MalformedRequests.holdsMarker(line, LOG_BOUND)).toList())
                    .as("log lines holding more than " + LOG_BOUND + " characters of client text").isEmpty();
        }
    }
}
