package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.generate;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import java.net.http.HttpResponse;
import java.time.Duration;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.queue.routing.Host;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Host {@code weight} splits traffic in proportion among equally preferred hosts under every strategy, as the
 * Python tool's weighted round-robin does: counted on what each fake host received.
 */
class WeightedRoutingEndToEndTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final int REQUESTS = 300;

    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"model_aware", "least_busy", "round_robin"})
    void weightsTwoToOneSplitSequentialRequestsTwoToOne(String strategy) throws Exception {
        int[] counts = split(strategy, 2, 1);

        assertThat(counts[0]).as("heavy").isCloseTo(200, within(3));
        assertThat(counts[1]).as("light").isCloseTo(100, within(3));
    }

    @ParameterizedTest
    @ValueSource(strings = {"model_aware", "least_busy", "round_robin"})
    void equalWeightsSplitSequentialRequestsEvenly(String strategy) throws Exception {
        int[] counts = split(strategy, 1, 1);

        assertThat(counts[0]).isCloseTo(150, within(3));
        assertThat(counts[1]).isCloseTo(150, within(3));
    }

    /** Sends {@link #REQUESTS} generates one after the other; returns what each host received. */
    private int[] split(String strategy, int weightA, int weightB) throws Exception {
        // Both have the model in memory: under model_aware they are equally preferred.
        FakeOllama a = fixture.ollama(FakeOllama.builder().loaded("llama3:latest").tokenDelay(Duration.ZERO));
        FakeOllama b = fixture.ollama(FakeOllama.builder().loaded("llama3:latest").tokenDelay(Duration.ZERO));
        QueueProxy proxy = fixture.start(a, 4, "routing:\n  strategy: " + strategy + "\n"
                + "ollama:\n  health_check_interval: 1h\n  model_sync_interval: 1h\n  hosts:\n"
                + "    - {name: a, url: '" + a.baseUri() + "', max_concurrent: 4, weight: " + weightA + "}\n"
                + "    - {name: b, url: '" + b.baseUri() + "', max_concurrent: 4, weight: " + weightB + "}\n");
        await().atMost(WAIT).until(() -> proxy.fleet().hosts().stream()
                .allMatch(h -> h.inventory().syncedAt() != null && h.health() == Host.Health.HEALTHY));

        for (int i = 0; i < REQUESTS; i++) {
            HttpResponse<String> response = fixture.send(post(base(proxy).resolve("/api/generate"), generate("llama3", "r" + i)));
            assertThat(response.statusCode()).isEqualTo(200);
            // Sequential: the slot is given back (after the answer's last byte) before the next request.
            await().atMost(WAIT).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(1))
                    .until(() -> proxy.pool().inFlight() == 0);
        }
        int[] counts = {generates(a), generates(b)};
        assertThat(counts[0] + counts[1]).isEqualTo(REQUESTS);
        return counts;
    }

    private static int generates(FakeOllama host) {
        return (int) host.requests().stream().filter(r -> r.path().equals("/api/generate")).count();
    }
}
