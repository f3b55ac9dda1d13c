package dev.oqp.queue.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;

import dev.oqp.common.config.RateLimits;
import dev.oqp.common.config.Scope;
import dev.oqp.common.config.Tier;
import dev.oqp.queue.auth.Client;
import org.eclipse.jetty.http.BadMessageException;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.io.EofException;
import org.junit.jupiter.api.Test;

/** Pipeline steps 5 to 7 with no server: what the intake refuses, and what it hands to the queue. */
class InferenceIntakeTest {
    private static final String CONFIG = """
            proxy: {max_body: 1KiB}
            ollama:
              hosts:
                - {name: gpu, url: "http://127.0.0.1:9", max_concurrent: 2}
            keep_alive: {default: 10m}
            """;
    private static final Client NORMAL_CEILING = new Client("app", Scope.INFERENCE, Tier.NORMAL, 0, List.of());
    private static final String GENERATE = "{\"model\":\"llama3\",\"prompt\":\"hi\"}";

    private static FakeExchange admit(IntakeBench bench, Client client, String path, String body, String... headers) {
        return admit(bench, client, new FakeExchange("POST", path, body, headers));
    }

    private static FakeExchange admit(IntakeBench bench, Client client, FakeExchange exchange) {
        bench.intake.admit(bench.call(exchange, client));
        return exchange;
    }

    @Test
    void aValidRequestIsQueuedAtTheClientsCeilingWithItsModelAndKeepAliveAndSentToAHost() throws Exception {
        IntakeBench bench = new IntakeBench(CONFIG);

        FakeExchange exchange = admit(bench, NORMAL_CEILING, "/api/generate", GENERATE, "X-Queue-Priority", "high");

        assertThat(bench.sent).hasSize(1);
        Call call = bench.sent.get(0);
        assertThat(call.tier).as("high asked, normal allowed").isEqualTo(Tier.NORMAL);
        assertThat(call.model).isEqualTo("llama3:latest");
        assertThat(call.host().name()).isEqualTo("gpu");
        assertThat(new String(call.body, StandardCharsets.UTF_8)).contains("\"keep_alive\":\"10m\"");
        assertThat(exchange.written).as("the sender answers, not the intake").isNull();
    }

    @Test
    void aBodyThatIsNotAJsonObjectGets400AndNeverReachesTheQueue() throws Exception {
        IntakeBench bench = new IntakeBench(CONFIG);

        FakeExchange exchange = admit(bench, NORMAL_CEILING, "/api/generate", "[1,2]");

        assertThat(exchange.status).isEqualTo(400);
        assertThat(exchange.responseHeaders.get("X-Queue-Priority")).as("refused before queueing").isNull();
        assertThat(bench.sent).isEmpty();
        assertThat(bench.scheduler.snapshot().totalDepth()).isZero();
        assertThat(bench.recorded("app", 400)).isEqualTo(1.0);
    }

    @Test
    void aMissingModelGets400InTheOpenAiShapeOnV1() throws Exception {
        IntakeBench bench = new IntakeBench(CONFIG);

        FakeExchange exchange = admit(bench, NORMAL_CEILING, "/v1/chat/completions", "{\"messages\":[]}");

        assertThat(exchange.status).isEqualTo(400);
        assertThat(exchange.writtenText()).contains("\"message\":\"model is required\"");
        assertThat(bench.sent).isEmpty();
    }

    @Test
    void aModelOutsideTheAllowListGets403() throws Exception {
        IntakeBench bench = new IntakeBench(CONFIG);
        Client onlyMistral = new Client("app", Scope.INFERENCE, Tier.NORMAL, 0, List.of("mistral*"));

        FakeExchange exchange = admit(bench, onlyMistral, "/api/generate", GENERATE);

        assertThat(exchange.status).isEqualTo(403);
        assertThat(exchange.writtenText()).contains("model \\\"llama3\\\" is not allowed for client app");
        assertThat(bench.sent).isEmpty();
    }

    @Test
    void aDeclaredBodyOverMaxBodyGets413() throws Exception {
        IntakeBench bench = new IntakeBench(CONFIG);

        FakeExchange exchange = admit(bench, NORMAL_CEILING, "/api/generate",
                "{\"model\":\"llama3\",\"prompt\":\"" + "x".repeat(2048) + "\"}");

        assertThat(exchange.status).isEqualTo(413);
        assertThat(exchange.writtenText()).contains("limit 1024 bytes");
        assertThat(bench.sent).isEmpty();
    }

    @Test
    void aBadPriorityGets400() throws Exception {
        IntakeBench bench = new IntakeBench(CONFIG);

        FakeExchange exchange = admit(bench, NORMAL_CEILING, "/api/generate", GENERATE, "X-Queue-Priority", "urgent");

        assertThat(exchange.status).isEqualTo(400);
        assertThat(exchange.writtenText()).contains("X-Queue-Priority must be high, normal or low");
    }

    @Test
    void aClientOverItsRequestRateGets429WithRetryAfterAndItsReservationBack() throws Exception {
        IntakeBench bench = new IntakeBench(CONFIG);
        Client limited = new Client("app", Scope.INFERENCE, Tier.NORMAL, 0, List.of(), new RateLimits(1, 0, 0));

        admit(bench, limited, "/api/generate", GENERATE);
        FakeExchange second = admit(bench, limited, "/api/generate", GENERATE);

        assertThat(bench.sent).hasSize(1);
        assertThat(second.status).isEqualTo(429);
        assertThat(second.responseHeaders.get("Retry-After")).isNotNull();
        assertThat(bench.recorded("app", 429)).isEqualTo(1.0);
    }

    @Test
    void noUsableHostGets503WithRetryAfterBeforeQueueing() throws Exception {
        IntakeBench bench = new IntakeBench(CONFIG);
        bench.fleet.markUnhealthy(bench.fleet.host("gpu"), false, "test");

        FakeExchange exchange = admit(bench, NORMAL_CEILING, "/api/generate", GENERATE);

        assertThat(exchange.status).isEqualTo(503);
        assertThat(exchange.responseHeaders.get("Retry-After")).isNotNull();
        assertThat(exchange.writtenText()).contains("no healthy Ollama host");
        assertThat(bench.sent).isEmpty();
    }

    @Test
    void aBodyWithBadFramingGets400WithConnectionCloseAndIsRecordedAs400() throws Exception {
        IntakeBench bench = new IntakeBench(CONFIG);
        FakeExchange exchange = admit(bench, NORMAL_CEILING, new FakeExchange("POST", "/api/generate", GENERATE)
                .failBody(new BadMessageException("Bad chunking")));

        assertThat(exchange.status).isEqualTo(400);
        assertThat(exchange.writtenText()).startsWith("{\"error\":").contains("malformed request body");
        assertThat(exchange.responseHeaders.get("Connection")).isEqualTo("close");
        assertThat(exchange.failure).as("answered, not aborted").isNull();
        assertThat(bench.recorded("app", 400)).as("what the client was sent").isEqualTo(1.0);
        assertThat(bench.recorded("app", 499)).isZero();
        assertThat(bench.sent).isEmpty();
    }

    @Test
    void aBodyCutShortWhileTheClientStillListensGets400InItsApiShapeAndIsRecordedAs400() throws Exception {
        IntakeBench bench = new IntakeBench(CONFIG);
        FakeExchange exchange = admit(bench, NORMAL_CEILING,
                new FakeExchange("POST", "/v1/chat/completions", GENERATE).failBody(new EarlyEof()));

        assertThat(exchange.status).isEqualTo(400);
        assertThat(exchange.writtenText()).startsWith("{\"error\":{\"message\":");
        assertThat(exchange.responseHeaders.get("Connection")).isEqualTo("close");
        assertThat(bench.recorded("app", 400)).isEqualTo(1.0);
        assertThat(bench.recorded("app", 499)).isZero();
    }

    @Test
    void aClientThatResetMidBodyIsRecordedAs499AndSentNothing() throws Exception {
        IntakeBench bench = new IntakeBench(CONFIG);
        // Jetty reads a reset as the end of the input: the same failure as a half-close; the write tells them apart.
        FakeExchange exchange = admit(bench, NORMAL_CEILING,
                new FakeExchange("POST", "/api/generate", GENERATE).failBody(new EarlyEof()).clientReset());

        assertThat(exchange.written).isNull();
        assertThat(exchange.failure).isNotNull();
        assertThat(exchange.completions).hasValue(1);
        assertThat(bench.recorded("app", 499)).isEqualTo(1.0);
        assertThat(bench.recorded("app", 400)).isZero();
    }

    @Test
    void aBodyReadThatFailsWithoutAnHttpStatusIsTheClientLeaving() throws Exception {
        IntakeBench bench = new IntakeBench(CONFIG);
        FakeExchange exchange = admit(bench, NORMAL_CEILING, new FakeExchange("POST", "/api/generate", GENERATE)
                .failBody(new EofException("client gone")));

        assertThat(exchange.written).isNull();
        assertThat(bench.recorded("app", 499)).isEqualTo(1.0);
    }

    /** What Jetty's HTTP/1.1 connection hands a body reader when the input ends before the body (its own is private). */
    static final class EarlyEof extends EofException implements HttpException {
        EarlyEof() {
            super("Early EOF");
        }

        @Override
        public int getCode() {
            return 400;
        }

        @Override
        public String getReason() {
            return getMessage();
        }
    }
}
