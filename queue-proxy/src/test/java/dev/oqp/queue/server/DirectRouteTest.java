package dev.oqp.queue.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;

import dev.oqp.common.config.Scope;
import dev.oqp.common.config.Tier;
import dev.oqp.queue.auth.Client;
import org.junit.jupiter.api.Test;

/** Metadata requests with no server: the body of {@code /api/show}, read by the route itself. */
class DirectRouteTest {
    private static final String CONFIG = """
            ollama:
              hosts:
                - {name: gpu, url: "http://127.0.0.1:9", max_concurrent: 2}
            """;
    private static final Client READER = new Client("reader", Scope.READ, Tier.NORMAL, 0, List.of());

    private static DirectRoute route(IntakeBench bench) {
        return new DirectRoute(bench.fleet, bench.pool, bench.metrics, null,
                new BodyReader.Budget(bench.config.queue().maxQueuedBytes()), bench.recorder);
    }

    @Test
    void aShowBodyCutShortGets400AndIsRecordedAs400() throws Exception {
        IntakeBench bench = new IntakeBench(CONFIG);
        FakeExchange exchange = new FakeExchange("POST", "/api/show", "{\"model\":\"llama3\"}")
                .failBody(new InferenceIntakeTest.EarlyEof());

        route(bench).forward(bench.call(exchange, READER));

        assertThat(exchange.status).isEqualTo(400);
        assertThat(exchange.writtenText()).startsWith("{\"error\":");
        assertThat(bench.recorded("reader", 400)).isEqualTo(1.0);
        assertThat(bench.recorded("reader", 499)).isZero();
        assertThat(bench.sent).as("never sent to a host").isEmpty();
    }

    @Test
    void aShowBodyIsSentAsRead() throws Exception {
        IntakeBench bench = new IntakeBench(CONFIG);
        FakeExchange exchange = new FakeExchange("POST", "/api/show", "{\"model\":\"llama3\"}");

        route(bench).forward(bench.call(exchange, READER));

        assertThat(bench.sent).hasSize(1);
        assertThat(new String(bench.sent.get(0).body, StandardCharsets.UTF_8)).isEqualTo("{\"model\":\"llama3\"}");
    }
}
