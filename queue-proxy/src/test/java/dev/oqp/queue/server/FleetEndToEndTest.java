package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.get;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.Fault;
import dev.oqp.common.testing.LogCapture;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.common.testing.TestSockets;
import dev.oqp.queue.routing.Host;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The fleet (pipeline steps 4, 9 and 10) against two or three fake Ollama hosts on loopback: model-aware
 * choice, waiting without blocking other models, failover, health, merged lists, management routing and
 * cold-load protection. Assertions are on what each fake host received and when.
 */
class FleetEndToEndTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Enough tokens for a request to hold its slot a while ({@code options.num_predict} picks how many). */
    private static final List<String> TOKENS = Collections.nCopies(200, " t");
    private static final String KEY_APP = "app-key-0123456789abcdef";
    private static final String KEY_READER = "reader-key-0123456789abcdef";
    private static final String KEY_ADMIN = "admin-key-0123456789abcdef";

    private static final String ACCESS_LOG = "logging: {level: info, access_log: true}\n";

    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    /** Which host a request goes to. */
    @Nested
    class HostChoice {
        @Test
        void modelLoadedOnlyOnSecondHostGoesThereEvenWhenFirstIsIdle() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().installed("llama3:latest", "qwen2:7b"));
            FakeOllama b = fixture.ollama(FakeOllama.builder().loaded("qwen2:7b"));
            QueueProxy proxy = startSynced("", a, b);

            HttpResponse<String> response = fixture.send(post(generate(proxy), gen("qwen2:7b", "hello")));

            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(response.headers().firstValue("X-Upstream-Host")).hasValue("b");
            assertThat(inference(b)).hasSize(1);
            assertThat(inference(a)).isEmpty();
        }

        @Test
        void modelInstalledOnBothButLoadedOnFirstGoesToFirst() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().loaded("llama3:latest").installed("qwen2:7b"));
            FakeOllama b = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
            // b heavier: were the loaded state ignored, the tie on requests in flight would go to b.
            QueueProxy proxy = startSynced(hosts(new FakeOllama[] {a, b}, new String[] {"a", "b"}, 2, 5, "1h"), a, b);

            for (int i = 0; i < 3; i++) {
                HttpResponse<String> response = fixture.send(post(generate(proxy), gen("llama3", "r" + i)));
                assertThat(response.headers().firstValue("X-Upstream-Host")).hasValue("a");
            }
            assertThat(inference(a)).hasSize(3);
            assertThat(inference(b)).isEmpty();
        }

        @Test
        void shortNameMatchesAHostListingTheLatestTag() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().installed("mistral:7b"));
            FakeOllama b = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
            QueueProxy proxy = startSynced("routing:\n  fallback: reject\n", a, b);

            for (String spelled : List.of("llama3", "LLama3:Latest", "library/llama3")) {
                HttpResponse<String> response = fixture.send(post(generate(proxy), gen(spelled, spelled)));
                assertThat(response.headers().firstValue("X-Upstream-Host")).as(spelled).hasValue("b");
            }
            assertThat(inference(b)).hasSize(3);
            // Routing never rewrites the body: the host sees the name as the client wrote it.
            assertThat(inference(b).get(0).bodyJson().get("model").asText()).isEqualTo("llama3");
            HttpResponse<String> unknown = fixture.send(post(generate(proxy), gen("nosuch", "x")));
            assertThat(unknown.statusCode()).isEqualTo(404);
            assertThat(unknown.body()).contains("model \\\"nosuch\\\" not found");
            assertThat(inference(a)).isEmpty();
        }

        @Test
        void fullHostsMakeARequestWaitWhileAnotherModelWithAFreeHostGoesAhead() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().loaded("llama3:latest").tokens(TOKENS).tokenDelay(Duration.ofMillis(20)));
            FakeOllama b = fixture.ollama(FakeOllama.builder().loaded("llama3:latest").tokens(TOKENS).tokenDelay(Duration.ofMillis(20)));
            FakeOllama c = fixture.ollama(FakeOllama.builder().loaded("qwen2:7b").tokenDelay(Duration.ZERO));
            QueueProxy proxy = startSynced(hosts(new FakeOllama[] {a, b, c}, new String[] {"a", "b", "c"}, 1, 1, "1h"), a, b, c);

            CompletableFuture<HttpResponse<String>> blockA = fixture.sendAsync(post(generate(proxy), slow("llama3", "block1", 60)));
            CompletableFuture<HttpResponse<String>> blockB = fixture.sendAsync(post(generate(proxy), slow("llama3", "block2", 60)));
            await().atMost(WAIT).until(() -> inference(a).size() == 1 && inference(b).size() == 1);
            CompletableFuture<HttpResponse<String>> waiting = fixture.sendAsync(post(generate(proxy), slow("llama3", "waits", 1)));
            await().atMost(WAIT).until(() -> proxy.scheduler().snapshot().totalDepth() == 1);

            HttpResponse<String> other = fixture.send(post(generate(proxy), gen("qwen2:7b", "other")));

            assertThat(other.statusCode()).isEqualTo(200);
            assertThat(other.headers().firstValue("X-Upstream-Host")).hasValue("c");
            assertThat(waiting).as("llama3 waits for a or b, never spills to c").isNotDone();
            assertThat(proxy.scheduler().snapshot().totalDepth()).isEqualTo(1);
            assertThat(inference(c)).hasSize(1);
            HttpResponse<String> waited = waiting.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(waited.statusCode()).isEqualTo(200);
            assertThat(waited.headers().firstValue("X-Upstream-Host").orElseThrow()).isIn("a", "b");
            assertThat(blockA.get(WAIT.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            assertThat(blockB.get(WAIT.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            assertThat(inference(c)).hasSize(1);
        }
    }

    /** Hosts that fail or go down. */
    @Nested
    class Failover {
        @Test
        void killedHostIsSkippedAfterTheFirstFailureAndTheRequestSucceedsOnTheOther() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));
            FakeOllama b = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
            QueueProxy proxy = startSynced("", a, b);
            a.fault(Fault.refuseConnections());

            HttpResponse<String> first = fixture.send(post(generate(proxy), gen("llama3", "first")));

            assertThat(first.statusCode()).isEqualTo(200);
            assertThat(first.headers().firstValue("X-Failover-Attempts")).hasValue("2");
            assertThat(first.headers().firstValue("X-Upstream-Host")).hasValue("b");
            assertThat(proxy.fleet().host("a").health()).isEqualTo(Host.Health.UNHEALTHY);
            HttpResponse<String> second = fixture.send(post(generate(proxy), gen("llama3", "second")));
            assertThat(second.headers().firstValue("X-Upstream-Host")).hasValue("b");
            assertThat(second.headers().firstValue("X-Failover-Attempts")).isEmpty();
            assertThat(prompts(b)).containsExactly("first", "second");
            assertThat(proxy.pool().inFlight("a")).isZero();
            await().atMost(WAIT).until(() -> proxy.pool().inFlight() == 0);
        }

        @Test
        void allHostsDownGive502ExhaustedThen503UntilOneReturnsAndIsUsedAgainWithoutARestart() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));
            FakeOllama b = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));
            QueueProxy proxy = startSynced("", a, b);
            a.fault(Fault.refuseConnections());
            b.fault(Fault.refuseConnections());

            HttpResponse<String> exhausted = fixture.send(post(generate(proxy), gen("llama3", "x")));
            assertThat(exhausted.statusCode()).isEqualTo(502);
            assertThat(exhausted.headers().firstValue("X-Failover-Exhausted")).hasValue("true");
            assertThat(exhausted.headers().firstValue("X-Failover-Attempts")).hasValue("2");
            assertThat(JSON.readTree(exhausted.body()).has("error")).isTrue();

            HttpResponse<String> down = fixture.send(post(generate(proxy), gen("llama3", "y")));
            assertThat(down.statusCode()).isEqualTo(503);
            assertThat(down.headers().firstValue("Retry-After")).isPresent();
            assertThat(fixture.send(get(base(proxy).resolve("/ready"))).statusCode()).isEqualTo(503);
            assertThat(fixture.send(get(base(proxy).resolve("/api/tags"))).statusCode()).isEqualTo(503);

            b.fault(Fault.none());
            await().atMost(WAIT).until(() -> fixture.send(get(base(proxy).resolve("/ready"))).statusCode() == 200);
            HttpResponse<String> back = fixture.send(post(generate(proxy), gen("llama3", "back")));
            assertThat(back.statusCode()).isEqualTo(200);
            assertThat(back.headers().firstValue("X-Upstream-Host")).hasValue("b");
            assertThat(prompts(b)).containsExactly("back");
            assertThat(inference(a)).isEmpty();
            String metrics = fixture.send(get(base(proxy).resolve("/metrics"))).body();
            assertThat(metrics).contains("oqp_host_healthy{host=\"a\",name=\"a\"} 0.0",
                    "oqp_host_healthy{host=\"b\",name=\"b\"} 1.0",
                    "oqp_host_health_changes_total{host=\"b\",state=\"unhealthy\"} 1.0",
                    "oqp_routing_decisions_total{reason=\"failover\"} 1.0",
                    "oqp_routing_decisions_total{reason=\"no_healthy_host\"}");
        }

        @Test
        void aModelOnlyOnADownHostGets503AndNeverFallsBackToAHostWithoutIt() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
            FakeOllama b = fixture.ollama(FakeOllama.builder().loaded("qwen2:7b"));
            QueueProxy proxy = startSynced("", a, b);
            a.fault(Fault.refuseConnections());
            // The first request meets the refusal and fails over nowhere: b lacks the model.
            fixture.send(post(generate(proxy), gen("llama3", "first")));
            await().atMost(WAIT).until(() -> proxy.fleet().host("a").health() == Host.Health.UNHEALTHY);

            HttpResponse<String> down = fixture.send(post(generate(proxy), gen("llama3", "down")));

            assertThat(down.statusCode()).isEqualTo(503);
            assertThat(down.headers().firstValue("Retry-After")).isPresent();
            assertThat(down.body()).contains("only on unhealthy hosts (a)");
            assertThat(inference(b)).as("fallback any_healthy does not send it to a host without the model").isEmpty();
            assertThat(fixture.send(post(generate(proxy), gen("qwen2:7b", "other"))).statusCode()).isEqualTo(200);

            a.fault(Fault.none());
            await().atMost(WAIT).until(() -> proxy.fleet().host("a").health() == Host.Health.HEALTHY);
            HttpResponse<String> back = fixture.send(post(generate(proxy), gen("llama3", "back")));
            assertThat(back.statusCode()).isEqualTo(200);
            assertThat(back.headers().firstValue("X-Upstream-Host")).hasValue("a");
            assertThat(prompts(a)).containsExactly("back");
        }

        @Test
        void queuedRequestsAreAnsweredAtOnceWhenTheLastHostGoesDown() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().loaded("llama3:latest").tokens(TOKENS).tokenDelay(Duration.ofMillis(20)));
            QueueProxy proxy = startSynced(hosts(new FakeOllama[] {a}, new String[] {"a"}, 1, 1, "200ms"), a);
            CompletableFuture<HttpResponse<String>> running = fixture.sendAsync(post(generate(proxy), slow("llama3", "run", 200)));
            await().atMost(WAIT).until(() -> inference(a).size() == 1);
            CompletableFuture<HttpResponse<String>> queued = fixture.sendAsync(post(generate(proxy), slow("llama3", "q", 1)));
            await().atMost(WAIT).until(() -> proxy.scheduler().snapshot().totalDepth() == 1);
            long down = System.nanoTime();

            // Health checks now fail; the stream in progress is not affected.
            a.fault(Fault.status(503, "down for maintenance"));

            HttpResponse<String> answer = queued.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(answer.statusCode()).isEqualTo(503);
            assertThat(answer.headers().firstValue("Retry-After")).isPresent();
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - down)).as("not left to max_wait").isLessThan(5000);
            assertThat(proxy.fleet().host("a").health()).isEqualTo(Host.Health.UNHEALTHY);
            assertThat(running.get(WAIT.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            assertThat(inference(a)).hasSize(1);
        }

        @Test
        void aStreamThatBreaksMidwayIsNotRetriedAndEndsWithAnErrorLine() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));
            FakeOllama b = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
            QueueProxy proxy = startSynced("", a, b);
            a.fault(Fault.resetAfterLines(3));

            HttpResponse<String> response = fixture.send(post(generate(proxy), slow("llama3", "breaks", 20)
                    .replace(",\"stream\":false", "")));

            assertThat(response.statusCode()).isEqualTo(200);
            String[] lines = response.body().strip().split("\n");
            assertThat(lines.length).isEqualTo(4);
            assertThat(JSON.readTree(lines[3]).has("error")).isTrue();
            assertThat(response.headers().firstValue("X-Failover-Attempts")).isEmpty();
            assertThat(inference(a)).hasSize(1);
            assertThat(inference(b)).as("a generation is never re-run after bytes were streamed").isEmpty();
        }

        @Test
        void aResetBeforeAnyResponseByteIsRetriedOnAnotherHost() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));
            FakeOllama b = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
            QueueProxy proxy = startSynced("", a, b);
            a.fault(Fault.resetAfterLines(0));

            HttpResponse<String> response = fixture.send(post(generate(proxy), gen("llama3", "reset")));

            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(response.headers().firstValue("X-Failover-Attempts")).hasValue("2");
            assertThat(response.headers().firstValue("X-Upstream-Host")).hasValue("b");
            assertThat(inference(a)).hasSize(1);
            assertThat(prompts(b)).containsExactly("reset");
            // A reset is not a connect failure: the host stays in use.
            assertThat(proxy.fleet().host("a").usable()).isTrue();
        }

        @Test
        void aConnectionClosedBeforeAnsweringIsRetriedOnOneOtherHostOnly() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));
            FakeOllama b = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));
            FakeOllama c = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));
            QueueProxy proxy = startSynced("", a, b, c);
            a.fault(Fault.resetAfterLines(0));
            b.fault(Fault.resetAfterLines(0));
            c.fault(Fault.resetAfterLines(0));

            HttpResponse<String> response = fixture.send(post(generate(proxy), gen("llama3", "crashes hosts")));

            // A request that makes hosts drop it is not sent round the whole fleet.
            assertThat(response.statusCode()).isEqualTo(502);
            assertThat(response.headers().firstValue("X-Failover-Attempts")).hasValue("2");
            assertThat(inference(a).size() + inference(b).size() + inference(c).size()).isEqualTo(2);
            await().atMost(WAIT).until(() -> proxy.pool().inFlight() == 0);
        }
    }

    /**
     * Hosts that all close the connection before answering: every 502 says the failover ended
     * ({@code X-Failover-Exhausted}) and its access line names every host the request was sent to. Repeated, since
     * a fault run saw it only on some answers.
     */
    @Nested
    class ResetsBeforeAnswering {
        private static final int REPEATS = 8;

        @Test
        void twoHostsBothResettingEndExhaustedWithBothInTheAccessLineEveryTime() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));
            FakeOllama b = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));

            QueueProxy proxy = repeatedOnResettingHosts("two", a, b);

            assertThat(inference(a)).hasSize(REPEATS);
            assertThat(inference(b)).hasSize(REPEATS);
            assertThat(proxy.fleet().host("a").usable()).as("a reset is not a connect failure").isTrue();
            await().atMost(WAIT).until(() -> proxy.pool().inFlight() == 0);
        }

        @Test
        void threeHostsAllResettingStopAfterOneMoreHostAndSayExhaustedNamingTheTwoTried() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));
            FakeOllama b = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));
            FakeOllama c = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));

            QueueProxy proxy = repeatedOnResettingHosts("three", a, b, c);

            assertThat(inference(a).size() + inference(b).size() + inference(c).size()).isEqualTo(2 * REPEATS);
            await().atMost(WAIT).until(() -> proxy.pool().inFlight() == 0);
        }

        @Test
        void aConnectFailureThenResetsTryOneMoreHostAfterTheResetAndNameAllThreeTried() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));
            FakeOllama b = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));
            FakeOllama c = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
            QueueProxy proxy = startSynced(ACCESS_LOG, a, b, c);
            a.fault(Fault.refuseConnections());
            b.fault(Fault.resetAfterLines(0));
            c.fault(Fault.resetAfterLines(0));

            try (LogCapture capture = LogCapture.start()) {
                // A connect failure tries every host; the reset on b earns one more (c), and c's reset ends it.
                assertExhausted(proxy, capture, "mixed", 3);
            }
            assertThat(inference(b)).hasSize(1);
            assertThat(inference(c)).hasSize(1);
        }

        /**
         * Sends {@link #REPEATS} requests to {@code hosts}, all closing the connection before answering: each is
         * 502 exhausted after two hosts (a reset earns one more host), both named in its access line.
         */
        private QueueProxy repeatedOnResettingHosts(String name, FakeOllama... hosts) throws Exception {
            QueueProxy proxy = startSynced(ACCESS_LOG, hosts);
            for (FakeOllama host : hosts) {
                host.fault(Fault.resetAfterLines(0));
            }
            try (LogCapture capture = LogCapture.start()) {
                for (int i = 0; i < REPEATS; i++) {
                    assertExhausted(proxy, capture, name + "-" + i, 2);
                }
            }
            return proxy;
        }

        /** One request: 502 exhausted after {@code attempts} hosts, each of them named in its access line. */
        private void assertExhausted(QueueProxy proxy, LogCapture capture, String id, int attempts) throws Exception {
            HttpResponse<String> response = fixture.send(post(generate(proxy), gen("llama3", id), "X-Request-ID", id));

            assertThat(response.statusCode()).as(id).isEqualTo(502);
            assertThat(response.headers().firstValue("X-Failover-Exhausted")).as(id).hasValue("true");
            assertThat(response.headers().firstValue("X-Failover-Attempts")).as(id).hasValue(Integer.toString(attempts));
            await().atMost(WAIT).untilAsserted(() -> assertThat(accessLine(capture, id)).as(id).isNotNull());
            String line = accessLine(capture, id);
            String host = JSON.readTree(line).get("host").asText();
            List<String> failed = List.of(JSON.readTree(line).get("failed_hosts").asText().split(","));
            assertThat(failed).as(id + ": " + line).hasSize(attempts).contains(host);
            assertThat(JSON.readTree(line).get("attempts").asInt()).as(id).isEqualTo(attempts);
        }

        /** The JSON access line of request {@code id}, or null. */
        private String accessLine(LogCapture capture, String id) {
            return capture.lines().stream()
                    .filter(l -> l.startsWith("{") && l.contains("\"request_id\":\"" + id + "\"") && l.contains("\"status\""))
                    .findFirst().orElse(null);
        }
    }

    /** Merged lists, show, management and the queue status. */
    @Nested
    class Metadata {
        @Test
        void mergedTagsListEveryModelOfEveryHealthyHostOnce() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().installed("llama3:latest", "qwen2:7b").loaded("llama3:latest"));
            FakeOllama b = fixture.ollama(FakeOllama.builder().installed("qwen2:7b", "all-minilm:latest").loaded("qwen2:7b"));
            QueueProxy proxy = startSynced("", a, b);

            HttpResponse<String> tags = fixture.send(get(base(proxy).resolve("/api/tags")));
            assertThat(tags.statusCode()).isEqualTo(200);
            assertThat(names(JSON.readTree(tags.body()).get("models"), "name"))
                    .containsExactlyInAnyOrder("llama3:latest", "qwen2:7b", "all-minilm:latest");
            HttpResponse<String> ps = fixture.send(get(base(proxy).resolve("/api/ps")));
            assertThat(names(JSON.readTree(ps.body()).get("models"), "name")).containsExactlyInAnyOrder("llama3:latest", "qwen2:7b");
            JsonNode models = JSON.readTree(fixture.send(get(base(proxy).resolve("/v1/models"))).body());
            assertThat(models.get("object").asText()).isEqualTo("list");
            assertThat(names(models.get("data"), "id")).containsExactlyInAnyOrder("llama3:latest", "qwen2:7b", "all-minilm:latest");

            b.fault(Fault.refuseConnections());
            HttpResponse<String> without = fixture.send(get(base(proxy).resolve("/api/tags")));
            assertThat(names(JSON.readTree(without.body()).get("models"), "name"))
                    .containsExactlyInAnyOrder("llama3:latest", "qwen2:7b");
            // The failed fan-out marks b from its own callback, which may run just after the answer was sent. A
            // pooled connection that the stopped listener closed can meet that first fan-out (a reset, not a refused
            // connect: b is left out but not marked); the next fan-out's connect is refused and marks it.
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                if (proxy.fleet().host("b").health() != Host.Health.UNHEALTHY) {
                    fixture.send(get(base(proxy).resolve("/api/tags")));
                }
                assertThat(proxy.fleet().host("b").health()).isEqualTo(Host.Health.UNHEALTHY);
            });
        }

        @Test
        void aBurstOfListRequestsSharesOneRequestPerHost() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
            FakeOllama b = fixture.ollama(FakeOllama.builder().installed("qwen2:7b"));
            QueueProxy proxy = startSynced("", a, b);
            a.fault(Fault.slowHeaders(Duration.ofMillis(1500)));
            b.fault(Fault.slowHeaders(Duration.ofMillis(1500)));

            List<CompletableFuture<HttpResponse<String>>> burst = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                burst.add(fixture.sendAsync(get(base(proxy).resolve("/api/tags"))));
            }

            for (CompletableFuture<HttpResponse<String>> response : burst) {
                HttpResponse<String> r = response.get(WAIT.toSeconds(), TimeUnit.SECONDS);
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(names(JSON.readTree(r.body()).get("models"), "name")).containsExactlyInAnyOrder("llama3:latest", "qwen2:7b");
            }
            // Ten clients within the hosts' 1.5 s: they join the fan-out under way (a straggler may start a second).
            assertThat(a.requests()).hasSizeBetween(1, 2);
            assertThat(b.requests()).hasSizeBetween(1, 2);
        }

        @Test
        void showGoesToAHostThatHasTheModel() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
            FakeOllama b = fixture.ollama(FakeOllama.builder().installed("qwen2:7b"));
            QueueProxy proxy = startSynced("", a, b);

            HttpResponse<String> show = fixture.send(post(base(proxy).resolve("/api/show"), "{\"model\":\"qwen2:7b\"}"));
            HttpResponse<String> openAi = fixture.send(get(base(proxy).resolve("/v1/models/qwen2:7b")));

            assertThat(show.statusCode()).isEqualTo(200);
            assertThat(show.headers().firstValue("X-Upstream-Host")).hasValue("b");
            assertThat(openAi.statusCode()).isEqualTo(200);
            assertThat(openAi.headers().firstValue("X-Upstream-Host")).hasValue("b");
            assertThat(a.requests()).isEmpty();
            assertThat(b.requests()).extracting(RecordedRequest::path).containsExactly("/api/show", "/v1/models/qwen2:7b");
            String huge = "{\"model\":\"qwen2:7b\",\"pad\":\"" + "x".repeat(70 * 1024) + "\"}";
            assertThat(fixture.send(post(base(proxy).resolve("/api/show"), huge)).statusCode())
                    .as("a show body is tiny; a big one is refused, not read").isEqualTo(413);
            assertThat(b.requests()).hasSize(2);
        }

        @Test
        void managementNeedsTheScopeAndAKnownHostAndGoesToTheNamedHost() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().installed("llama3:latest").pullable("qwen2:7b"));
            FakeOllama b = fixture.ollama(FakeOllama.builder().installed("llama3:latest").pullable("qwen2:7b"));
            QueueProxy proxy = startSynced("auth:\n  keys:\n"
                    + "    - {client_id: app, key: " + KEY_APP + "}\n"
                    + "    - {client_id: reader, key: " + KEY_READER + ", scope: read}\n"
                    + "    - {client_id: admin, key: " + KEY_ADMIN + ", scope: management}\n", a, b);
            URI pull = base(proxy).resolve("/api/pull");
            String body = "{\"model\":\"qwen2:7b\",\"stream\":false}";

            assertThat(fixture.send(post(pull, body, "Authorization", "Bearer " + KEY_APP)).statusCode()).isEqualTo(403);
            assertThat(fixture.send(post(pull, body, "Authorization", "Bearer " + KEY_READER, "X-Ollama-Host", "b"))
                    .statusCode()).isEqualTo(403);
            HttpResponse<String> unknown = fixture.send(post(pull, body, "Authorization", "Bearer " + KEY_ADMIN,
                    "X-Ollama-Host", "nosuch"));
            assertThat(unknown.statusCode()).isEqualTo(400);
            assertThat(a.requests()).isEmpty();
            assertThat(b.requests()).isEmpty();

            HttpResponse<String> named = fixture.send(post(pull, body, "Authorization", "Bearer " + KEY_ADMIN, "X-Ollama-Host", "b"));
            assertThat(named.statusCode()).isEqualTo(200);
            assertThat(named.headers().firstValue("X-Upstream-Host")).hasValue("b");
            assertThat(b.requests()).hasSize(1);
            assertThat(b.requests().get(0).header("X-Ollama-Host")).isNull();
            assertThat(b.requests().get(0).header("Authorization")).isNull();

            HttpResponse<String> first = fixture.send(HttpRequest.newBuilder(base(proxy).resolve("/api/delete"))
                    .method("DELETE", HttpRequest.BodyPublishers.ofString("{\"model\":\"llama3\"}"))
                    .header("Authorization", "Bearer " + KEY_ADMIN).build());
            assertThat(first.statusCode()).isEqualTo(200);
            assertThat(first.headers().firstValue("X-Upstream-Host")).as("first healthy host in config order").hasValue("a");
        }

        @Test
        void queueStatusListsHostsWithHealthSlotsAndModels() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().installed("qwen2:7b").loaded("llama3:latest"));
            FakeOllama b = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
            QueueProxy proxy = startSynced(hosts(new FakeOllama[] {a, b}, new String[] {"a", "b"}, 2, 1, "200ms"), a, b);
            b.fault(Fault.refuseConnections());
            await().atMost(WAIT).until(() -> proxy.fleet().host("b").health() == Host.Health.UNHEALTHY);

            JsonNode status = JSON.readTree(fixture.send(get(base(proxy).resolve("/queue/status"))).body());

            JsonNode hostA = status.get("hosts").get(0);
            assertThat(hostA.get("name").asText()).isEqualTo("a");
            assertThat(hostA.get("health").asText()).isEqualTo("healthy");
            assertThat(hostA.get("max_concurrent").asInt()).isEqualTo(2);
            assertThat(hostA.get("in_flight").asInt()).isZero();
            assertThat(names(hostA.get("installed"), null)).containsExactlyInAnyOrder("qwen2:7b", "llama3:latest");
            assertThat(names(hostA.get("loaded"), "name")).containsExactly("llama3:latest");
            assertThat(hostA.get("loaded").get(0).has("expires_at")).isTrue();
            assertThat(hostA.get("last_model_sync").asText()).isNotEmpty();
            assertThat(status.get("hosts").get(1).get("health").asText()).isEqualTo("unhealthy");
        }
    }

    /** Clients that leave while a model loads. */
    @Nested
    class ColdLoads {
        @Test
        void aClientThatLeavesDuringAModelLoadDoesNotAbortTheLoadUpstream() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().installed("llama3:latest").firstByteDelay(Duration.ofMillis(1500)));
            QueueProxy proxy = startSynced("", a);

            RecordedRequest load = leaveAfter(proxy, a, 300);

            RecordedRequest ended = load.awaitCancelled(WAIT);
            long heldMillis = TimeUnit.NANOSECONDS.toMillis(ended.cancelledNanos() - ended.receivedNanos());
            assertThat(heldMillis).as("kept until the first byte (1.5 s), then closed").isGreaterThanOrEqualTo(1400);
            assertThat(ended.lineWriteNanos()).as("closed at the first byte, not left to generate").hasSizeLessThan(3);
            await().atMost(WAIT).until(() -> proxy.pool().inFlight() == 0);
            assertThat(proxy.fleet().host("a").level("llama3:latest")).isEqualTo(Host.Level.LOADED);
        }

        @Test
        void aNonStreamedRequestWhoseClientLeavesDuringALoadIsAbortedAndTheModelLoadedWithoutGenerating() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().installed("llama3:latest").firstByteDelay(Duration.ofMillis(1500)));
            QueueProxy proxy = startSynced("", a);
            long start = System.nanoTime();

            try (Socket socket = TestSockets.rawRequest(proxy.port(), "POST", "/api/generate", Map.of(),
                    "{\"model\":\"Llama3\",\"prompt\":\"long\",\"stream\":false}")) {
                await().atMost(WAIT).until(() -> a.requests().size() == 1);
                // The fake counts the model as loaded from the first request on: the load request is slowed instead.
                a.fault(Fault.slowHeaders(Duration.ofMillis(1000)));
                Thread.sleep(300);
            }
            RecordedRequest original = a.requests().get(0).awaitCancelled(WAIT);

            assertThat(TimeUnit.NANOSECONDS.toMillis(original.cancelledNanos() - original.receivedNanos()))
                    .as("its first byte would come only with the whole answer: aborted at once").isLessThan(1200);
            await().atMost(WAIT).until(() -> a.requests().size() == 2);
            RecordedRequest load = a.requests().get(1);
            assertThat(load.path()).isEqualTo("/api/generate");
            assertThat(load.bodyJson().toString()).isEqualTo("{\"model\":\"Llama3\"}");
            assertThat(proxy.pool().inFlight()).as("the load holds the request's slots").isEqualTo(1);
            load.awaitFinished(WAIT);
            await().atMost(WAIT).until(() -> proxy.pool().inFlight() == 0);
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isGreaterThanOrEqualTo(1300);
            assertThat(a.isLoaded("llama3")).isTrue();
        }

        @Test
        void withoutColdLoadProtectionOrWithTheModelLoadedALeavingClientAbortsAtOnce() throws Exception {
            FakeOllama a = fixture.ollama(FakeOllama.builder().installed("llama3:latest").firstByteDelay(Duration.ofMillis(1500)));
            QueueProxy unprotected = startSynced("routing:\n  protect_cold_loads: false\n", a);
            RecordedRequest cold = leaveAfter(unprotected, a, 300).awaitCancelled(WAIT);
            assertThat(TimeUnit.NANOSECONDS.toMillis(cold.cancelledNanos() - cold.receivedNanos())).isLessThan(1200);

            FakeOllama b = fixture.ollama(FakeOllama.builder().loaded("llama3:latest").firstByteDelay(Duration.ofMillis(1500)));
            QueueProxy protectedProxy = startSynced("", b);
            RecordedRequest warm = leaveAfter(protectedProxy, b, 300).awaitCancelled(WAIT);
            assertThat(TimeUnit.NANOSECONDS.toMillis(warm.cancelledNanos() - warm.receivedNanos()))
                    .as("the model was in memory: nothing to protect").isLessThan(1200);
        }
    }

    /** Sends a streamed generate over a raw socket and closes it after {@code millis}; returns the upstream's record. */
    private RecordedRequest leaveAfter(QueueProxy proxy, FakeOllama host, long millis) throws Exception {
        return leaveAfter(proxy, host, millis, "{\"model\":\"llama3\",\"prompt\":\"load\"}");
    }

    private RecordedRequest leaveAfter(QueueProxy proxy, FakeOllama host, long millis, String body) throws Exception {
        int before = host.requests().size();
        try (Socket socket = TestSockets.rawRequest(proxy.port(), "POST", "/api/generate", Map.of(), body)) {
            await().atMost(WAIT).until(() -> host.requests().size() > before);
            Thread.sleep(millis);
        }
        return host.requests().get(before);
    }

    /** Hosts named a, b, c… plus short health and sync periods, and waits until every host was polled. */
    private QueueProxy startSynced(String yaml, FakeOllama... hosts) throws Exception {
        String[] names = new String[hosts.length];
        for (int i = 0; i < hosts.length; i++) {
            names[i] = String.valueOf((char) ('a' + i));
        }
        // Healthy hosts are not re-checked during a test (1 h): only requests and the probes of unhealthy hosts
        // (every second) change health, so a fault installed just before a request is met by that request.
        String full = yaml.contains("ollama:") ? yaml : yaml + hosts(hosts, names, 2, 1, "1h");
        QueueProxy proxy = fixture.start(hosts[0], 2, full);
        awaitSynced(proxy);
        return proxy;
    }

    private static String hosts(FakeOllama[] hosts, String[] names, int slots, int lastWeight, String healthInterval) {
        StringBuilder sb = new StringBuilder("ollama:\n  health_check_interval: " + healthInterval
                + "\n  model_sync_interval: 1h\n  hosts:\n");
        for (int i = 0; i < hosts.length; i++) {
            sb.append("    - name: ").append(names[i]).append("\n      url: ").append(hosts[i].baseUri())
                    .append("\n      max_concurrent: ").append(slots)
                    .append("\n      weight: ").append(i == hosts.length - 1 ? lastWeight : 1).append('\n');
        }
        return sb.toString();
    }

    private static void awaitSynced(QueueProxy proxy) {
        await().atMost(WAIT).until(() -> proxy.fleet().hosts().stream()
                .allMatch(h -> h.inventory().syncedAt() != null && h.health() == Host.Health.HEALTHY));
    }

    private static URI generate(QueueProxy proxy) {
        return base(proxy).resolve("/api/generate");
    }

    private static String gen(String model, String prompt) {
        return "{\"model\":\"" + model + "\",\"prompt\":\"" + prompt + "\",\"stream\":false}";
    }

    /** A generate of {@code tokens} tokens (each the fake's token delay apart). */
    private static String slow(String model, String prompt, int tokens) {
        return "{\"model\":\"" + model + "\",\"prompt\":\"" + prompt + "\",\"stream\":false,\"options\":{\"num_predict\":"
                + tokens + "}}";
    }

    private static List<RecordedRequest> inference(FakeOllama host) {
        List<RecordedRequest> out = new ArrayList<>();
        for (RecordedRequest r : host.requests()) {
            if (r.path().equals("/api/generate") || r.path().equals("/api/chat")) {
                out.add(r);
            }
        }
        return out;
    }

    private static List<String> prompts(FakeOllama host) {
        List<String> out = new ArrayList<>();
        for (RecordedRequest r : inference(host)) {
            out.add(r.bodyJson().get("prompt").asText());
        }
        return out;
    }

    private static List<String> names(JsonNode array, String field) {
        List<String> out = new ArrayList<>();
        for (JsonNode item : array) {
            out.add(field == null ? item.asText() : item.get(field).asText());
        }
        return Collections.unmodifiableList(out);
    }
}
