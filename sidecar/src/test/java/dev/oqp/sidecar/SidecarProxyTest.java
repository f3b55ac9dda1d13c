package dev.oqp.sidecar;

import static dev.oqp.sidecar.SidecarFixture.base;
import static dev.oqp.sidecar.SidecarFixture.service;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.Fault;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.common.testing.TestTls;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sidecar end to end: a real client, the sidecar and a fake Ollama, all on loopback. */
class SidecarProxyTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final SidecarFixture fixture = new SidecarFixture();
    private FakeOllama ollama;

    @AfterEach
    void tearDown() throws Exception {
        fixture.close();
        if (ollama != null) {
            ollama.stop();
        }
    }

    private FakeOllama ollama(FakeOllama.Builder builder) throws Exception {
        ollama = builder.start();
        return ollama;
    }

    @Test
    void injectedHeaderReplacesClientHeaderOfSameNameAndAddsClientName() throws Exception {
        ollama(FakeOllama.builder().installed("llama3:latest"));
        Sidecar sidecar = fixture.start(service("librechat", ollama.baseUri(),
                "headers:", "  Authorization: \"Bearer injected-secret\"", "  X-Team: blue"));

        HttpResponse<String> response = fixture.http.send(HttpRequest.newBuilder(base(sidecar, "librechat")
                        .resolve("/api/tags"))
                .header("Authorization", "Bearer client-value")
                .header("x-team", "red")
                .header("X-Client-Name", "spoofed")
                .header("X-Other", "kept")
                .GET().build(), HttpResponse.BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(200);
        RecordedRequest received = ollama.requests().get(0);
        assertThat(received.headerValues("Authorization")).containsExactly("Bearer injected-secret");
        assertThat(received.headerValues("X-Team")).containsExactly("blue");
        assertThat(received.headerValues("X-Client-Name")).containsExactly("librechat");
        assertThat(received.header("X-Other")).isEqualTo("kept");
        assertThat(received.header("X-Forwarded-For")).isEqualTo("127.0.0.1");
        assertThat(received.header("X-Forwarded-Proto")).isEqualTo("http");
    }

    @Test
    void secretWithDollarsSlashAndAmpersandArrivesIntact() throws Exception {
        ollama(FakeOllama.builder());
        String secret = "s3cr$$et/with&amp=and$${NOT_A_VAR}";
        Sidecar sidecar = fixture.start(service("agent", ollama.baseUri(),
                "headers:", "  Authorization: \"Bearer ${AGENT_KEY}\"", "  X-Literal: \"cost$$5/a&b\""),
                Map.of("AGENT_KEY", secret));

        assertThat(fixture.get(base(sidecar, "agent").resolve("/api/version")).statusCode()).isEqualTo(200);

        RecordedRequest received = ollama.requests().get(0);
        assertThat(received.header("Authorization")).isEqualTo("Bearer " + secret);
        assertThat(received.header("X-Literal")).isEqualTo("cost$5/a&b");
    }

    @Test
    void backToBackRequestsOnOneKeepAliveConnectionArriveIntact() throws Exception {
        ollama(FakeOllama.builder());
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri(), "headers: {Authorization: \"Bearer k\"}"));
        int rounds = 300;

        try (Socket socket = new Socket(java.net.InetAddress.getLoopbackAddress(), sidecar.port("ui"))) {
            socket.setSoTimeout(10_000);
            java.io.OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            byte[] request = ("GET /api/version HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
            for (int i = 0; i < rounds; i++) {
                out.write(request);
                out.flush();
                // The next request goes out the moment this response's body is in.
                SidecarFixture.readUntil(in, "\"}");
            }
        }

        ollama.awaitRequests(rounds, Duration.ofSeconds(5));
        assertThat(ollama.requests()).hasSize(rounds)
                .allSatisfy(r -> assertThat(r.method() + " " + r.path()).isEqualTo("GET /api/version"));
    }

    @Test
    void connectAndTraceAreRefusedWithoutReachingUpstream() throws Exception {
        ollama(FakeOllama.builder());
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri(), "headers: {Authorization: \"Bearer k\"}"));

        for (String requestLine : List.of("CONNECT evil.example:443 HTTP/1.1", "TRACE / HTTP/1.1")) {
            try (Socket socket = new Socket(java.net.InetAddress.getLoopbackAddress(), sidecar.port("ui"))) {
                socket.getOutputStream().write((requestLine + "\r\nHost: evil.example:443\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                socket.setSoTimeout(10_000);
                String response = SidecarFixture.readUntil(socket.getInputStream(), "}");
                assertThat(response).as(requestLine).startsWith("HTTP/1.1 405").doesNotContain("Bearer k");
            }
        }
        assertThat(ollama.requests()).isEmpty();
    }

    @Test
    void asteriskRequestTargetIsABadRequest() throws Exception {
        ollama(FakeOllama.builder());
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri()));

        try (Socket socket = SidecarFixture.rawRequest(sidecar.port("ui"), "OPTIONS", "*", Map.of(), null)) {
            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(response).startsWith("HTTP/1.1 400");
        }
        assertThat(ollama.requests()).isEmpty();
    }

    @Test
    void forwardingHeadersClaimedByTheClientAreReplacedByThePeerAddress() throws Exception {
        ollama(FakeOllama.builder());
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri()));

        fixture.http.send(HttpRequest.newBuilder(base(sidecar, "ui").resolve("/api/version"))
                .header("X-Forwarded-For", "1.2.3.4").header("Forwarded", "for=1.2.3.4").GET().build(),
                HttpResponse.BodyHandlers.discarding());

        RecordedRequest received = ollama.requests().get(0);
        assertThat(received.headerValues("X-Forwarded-For")).containsExactly("127.0.0.1");
        assertThat(received.header("Forwarded")).isNull();
    }

    @Test
    void clientStallingItsBodyGets408NotAnUpstreamTimeout() throws Exception {
        ollama(FakeOllama.builder().installed("llama3:latest"));
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri()));
        sidecar.connector("ui").setIdleTimeout(300);

        try (Socket socket = new Socket(java.net.InetAddress.getLoopbackAddress(), sidecar.port("ui"))) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"model\"")
                    .getBytes(StandardCharsets.US_ASCII));
            String response = SidecarFixture.readUntil(socket.getInputStream(), "}");
            assertThat(response).startsWith("HTTP/1.1 408").contains("{\"error\":\"request body not received in time\"}");
        }
    }

    @Test
    void upstreamHostHeaderIsTheUpstreamAuthority() throws Exception {
        ollama(FakeOllama.builder().checkHost(true));
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri()));

        try (Socket socket = SidecarFixture.rawRequest(sidecar.port("ui"), "GET", "/",
                Map.of("Host", "ollama.example.com"), null)) {
            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(response).startsWith("HTTP/1.1 200").endsWith("Ollama is running");
        }
        RecordedRequest received = ollama.requests().get(0);
        assertThat(received.header("Host")).isEqualTo("127.0.0.1:" + ollama.port());
        assertThat(received.header("X-Forwarded-Host")).isEqualTo("ollama.example.com");
    }

    @Test
    void healthIsAnsweredLocallyAndNeverProxied() throws Exception {
        ollama(FakeOllama.builder());
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri()));
        ollama.fault(Fault.refuseConnections());

        HttpResponse<String> health = fixture.get(base(sidecar, "ui").resolve("/health"));

        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.body()).isEqualTo("ok");
        ollama.fault(Fault.none());
        assertThat(fixture.get(base(sidecar, "ui").resolve("/api/version")).statusCode()).isEqualTo(200);
        assertThat(ollama.requests()).extracting(RecordedRequest::path).containsExactly("/api/version");
    }

    @Test
    void streamedLinesReachTheClientWhileTheUpstreamIsStillGenerating() throws Exception {
        List<String> tokens = List.of("a", "b", "c", "d", "e", "f", "g", "h");
        ollama(FakeOllama.builder().installed("llama3:latest").tokens(tokens).tokenDelay(Duration.ofMillis(150)));
        Sidecar sidecar = fixture.start(service("chat", ollama.baseUri()));

        HttpResponse<InputStream> response = fixture.http.send(HttpRequest.newBuilder(base(sidecar, "chat")
                        .resolve("/api/generate"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"llama3\",\"prompt\":\"hi\"}")).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        List<Long> arrivals = new ArrayList<>();
        List<String> lines = new ArrayList<>();
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                arrivals.add(System.nanoTime());
                lines.add(line);
            }
        }

        RecordedRequest upstream = ollama.requests().get(0).awaitFinished(Duration.ofSeconds(5));
        List<Long> written = upstream.lineWriteNanos();
        assertThat(lines).hasSize(tokens.size() + 1);
        assertThat(written).hasSize(lines.size());
        assertThat(JSON.readTree(lines.get(lines.size() - 1)).get("done").asBoolean()).isTrue();
        // The first line arrived before the upstream had even written its second line: nothing buffered.
        assertThat(arrivals.get(0)).isLessThan(written.get(1));
        for (int i = 0; i < lines.size() - 1; i++) {
            assertThat(arrivals.get(i)).as("line %d arrival", i).isLessThan(written.get(i + 1));
        }
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/x-ndjson");
    }

    @Test
    void tenMebibyteBodyPassesIntact() throws Exception {
        ollama(FakeOllama.builder().installed("llama3:latest"));
        Sidecar sidecar = fixture.start(service("rag", ollama.baseUri()));
        char[] prompt = new char[10 << 20];
        Arrays.fill(prompt, 'x');
        String body = "{\"model\":\"llama3\",\"stream\":false,\"prompt\":\"" + new String(prompt) + "\"}";

        HttpResponse<String> response = fixture.post(base(sidecar, "rag").resolve("/api/generate"), body);

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(ollama.requests().get(0).body()).isEqualTo(body.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void bodyAfterExpect100ContinueIsForwarded() throws Exception {
        ollama(FakeOllama.builder().installed("llama3:latest"));
        Sidecar sidecar = fixture.start(service("rag", ollama.baseUri()));
        String body = "{\"model\":\"llama3\",\"stream\":false,\"prompt\":\"" + "p".repeat(2 << 20) + "\"}";

        HttpResponse<String> response = fixture.http.send(HttpRequest.newBuilder(base(sidecar, "rag")
                        .resolve("/api/generate")).expectContinue(true)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(ollama.requests().get(0).body()).hasSize(body.length());
    }

    @Test
    void declaredBodyOverMaxBodyGets413WithoutReachingUpstream() throws Exception {
        ollama(FakeOllama.builder());
        Sidecar sidecar = fixture.start(service("rag", ollama.baseUri(), "max_body: 1MiB"));

        HttpResponse<String> response = fixture.post(base(sidecar, "rag").resolve("/api/embed"),
                "{\"model\":\"m\",\"input\":\"" + "y".repeat((1 << 20) + 1) + "\"}");

        assertThat(response.statusCode()).isEqualTo(413);
        assertThat(JSON.readTree(response.body()).get("error").asText())
                .isEqualTo("request body too large (limit 1048576 bytes)");
        assertThat(ollama.requests()).isEmpty();
    }

    @Test
    void chunkedBodyGrowingOverMaxBodyGets413() throws Exception {
        ollama(FakeOllama.builder().installed("m:latest"));
        Sidecar sidecar = fixture.start(service("rag", ollama.baseUri(), "max_body: 64KiB"));
        byte[] body = ("{\"model\":\"m\",\"input\":\"" + "z".repeat(256 << 10) + "\"}").getBytes(StandardCharsets.UTF_8);

        HttpResponse<String> response = fixture.http.send(HttpRequest.newBuilder(base(sidecar, "rag")
                        .resolve("/v1/embeddings"))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(body))).build(),
                HttpResponse.BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(413);
        JsonNode error = JSON.readTree(response.body()).get("error");
        assertThat(error.get("message").asText()).isEqualTo("request body too large (limit 65536 bytes)");
        assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
    }

    @Test
    void refusedUpstreamGets502InTheShapeOfEachApi() throws Exception {
        URI nothingListens = URI.create("http://127.0.0.1:" + SidecarFixture.freePort());
        Sidecar sidecar = fixture.start(service("ui", nothingListens, "connect_timeout: 2s"));

        HttpResponse<String> ollamaShape = fixture.post(base(sidecar, "ui").resolve("/api/chat"), "{}");
        HttpResponse<String> openAiShape = fixture.get(base(sidecar, "ui").resolve("/v1/models"));

        assertThat(ollamaShape.statusCode()).isEqualTo(502);
        assertThat(ollamaShape.body()).isEqualTo("{\"error\":\"upstream unreachable\"}");
        assertThat(openAiShape.statusCode()).isEqualTo(502);
        assertThat(JSON.readTree(openAiShape.body()).at("/error/message").asText()).isEqualTo("upstream unreachable");
        assertThat(JSON.readTree(openAiShape.body()).at("/error/type").asText()).isEqualTo("api_error");
    }

    @Test
    void upstreamSilentPastTimeoutGets504() throws Exception {
        ollama(FakeOllama.builder().installed("llama3:latest"));
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri(), "timeout: 400ms"));
        ollama.fault(Fault.stallAfterLines(0));

        long start = System.nanoTime();
        HttpResponse<String> response = fixture.post(base(sidecar, "ui").resolve("/api/generate"),
                "{\"model\":\"llama3\",\"prompt\":\"hi\"}");

        assertThat(response.statusCode()).isEqualTo(504);
        assertThat(response.body()).isEqualTo("{\"error\":\"upstream timed out\"}");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    }

    @Test
    void streamThatBreaksMidwayEndsWithAnErrorLine() throws Exception {
        ollama(FakeOllama.builder().installed("llama3:latest").tokenDelay(Duration.ofMillis(10)));
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri()));
        ollama.fault(Fault.resetAfterLines(2));

        HttpResponse<String> response = fixture.post(base(sidecar, "ui").resolve("/api/chat"),
                "{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");

        assertThat(response.statusCode()).isEqualTo(200);
        String[] lines = response.body().split("\n");
        assertThat(lines).hasSize(3);
        assertThat(JSON.readTree(lines[0]).has("message")).isTrue();
        assertThat(JSON.readTree(lines[2]).get("error").asText()).isEqualTo("upstream connection failed");
    }

    @Test
    void streamThatStallsMidwayEndsWithATimeoutLine() throws Exception {
        ollama(FakeOllama.builder().installed("llama3:latest").tokenDelay(Duration.ofMillis(10)));
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri(), "timeout: 400ms"));
        ollama.fault(Fault.stallAfterLines(1));

        HttpResponse<String> response = fixture.post(base(sidecar, "ui").resolve("/api/generate"),
                "{\"model\":\"llama3\",\"prompt\":\"hi\"}");

        String[] lines = response.body().split("\n");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(lines).hasSize(2);
        assertThat(lines[1]).isEqualTo("{\"error\":\"upstream timed out\"}");
    }

    @Test
    void clientDisconnectMidStreamClosesTheUpstreamWithinASecond() throws Exception {
        ollama(FakeOllama.builder().installed("llama3:latest")
                .tokens(List.of("1", "2", "3", "4", "5", "6", "7", "8", "9", "10"))
                .tokenDelay(Duration.ofMillis(200)));
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri()));

        long closed;
        try (Socket socket = SidecarFixture.rawRequest(sidecar.port("ui"), "POST", "/api/generate", Map.of(),
                "{\"model\":\"llama3\",\"prompt\":\"hi\"}")) {
            SidecarFixture.readUntil(socket.getInputStream(), "\"done\":false");
            closed = System.nanoTime();
        }

        RecordedRequest upstream = ollama.requests().get(0).awaitCancelled(Duration.ofSeconds(2));
        assertThat(Duration.ofNanos(upstream.cancelledNanos() - closed)).isLessThan(Duration.ofSeconds(1));
        assertThat(upstream.lineWriteNanos().size()).isLessThan(11);
    }

    @Test
    void clientDisconnectDuringModelLoadClosesTheUpstreamWithinASecond() throws Exception {
        ollama(FakeOllama.builder().installed("llama3:latest").firstByteDelay(Duration.ofSeconds(20)));
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri()));

        long closed;
        try (Socket socket = SidecarFixture.rawRequest(sidecar.port("ui"), "POST", "/api/generate", Map.of(),
                "{\"model\":\"llama3\",\"prompt\":\"hi\"}")) {
            ollama.awaitRequests(1, Duration.ofSeconds(5));
            closed = System.nanoTime();
        }

        RecordedRequest upstream = ollama.requests().get(0).awaitCancelled(Duration.ofSeconds(10));
        assertThat(Duration.ofNanos(upstream.cancelledNanos() - closed)).isLessThan(Duration.ofSeconds(1));
    }

    @Test
    void modelLoadLongerThanTheClientConnectionIdleTimeoutIsNotCut() throws Exception {
        ollama(FakeOllama.builder().installed("llama3:latest").firstByteDelay(Duration.ofMillis(1500)));
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri()));
        sidecar.connector("ui").setIdleTimeout(300);

        HttpResponse<String> response = fixture.post(base(sidecar, "ui").resolve("/api/generate"),
                "{\"model\":\"llama3\",\"prompt\":\"hi\",\"stream\":false}");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(response.body()).get("done").asBoolean()).isTrue();
        assertThat(ollama.requests().get(0).cancelled()).isFalse();
    }

    @Test
    void clientThatLeavesBeforeAnAnswerGetsNoErrorPage() throws Exception {
        ollama(FakeOllama.builder().installed("llama3:latest").firstByteDelay(Duration.ofSeconds(20)));
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri()));

        try (Socket socket = SidecarFixture.rawRequest(sidecar.port("ui"), "POST", "/api/generate", Map.of(),
                "{\"model\":\"llama3\",\"prompt\":\"hi\"}")) {
            ollama.awaitRequests(1, Duration.ofSeconds(5));
            socket.shutdownOutput();
            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(response).as("a client that is gone gets no HTML error page").isEmpty();
        }
        ollama.requests().get(0).awaitCancelled(Duration.ofSeconds(2));
    }

    @Test
    void httpsUpstreamIsVerifiedAgainstTheConfiguredCaAndGetsSni(@TempDir Path dir) throws Exception {
        TestTls.Material tls = TestTls.generate(dir, "ollama.oqp.test"); // resolved by src/test/resources/test-hosts
        ollama(FakeOllama.builder().tls(tls.keyStore(), tls.password()));
        URI upstream = URI.create("https://ollama.oqp.test:" + ollama.port());
        Sidecar trusting = fixture.start(service("trusted", upstream, "ca_file: " + tls.certificatePem()));
        Sidecar verifying = fixture.start(service("untrusted", upstream));

        HttpResponse<String> ok = fixture.get(base(trusting, "trusted").resolve("/api/version"));
        HttpResponse<String> rejected = fixture.get(base(verifying, "untrusted").resolve("/api/version"));

        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ollama.requests()).hasSize(1);
        assertThat(ollama.requests().get(0).sniHost()).isEqualTo("ollama.oqp.test");
        assertThat(rejected.statusCode()).isEqualTo(502);
    }

    @Test
    void upstreamNameIsResolvedAgainWhenItsAddressChanges() throws Exception {
        Path hosts = Path.of(System.getProperty("jdk.net.hosts.file"));
        String original = Files.readString(hosts);
        try (FakeOllama before = FakeOllama.builder().listen("127.0.0.2", 0).start()) {
            int port = before.port();
            Files.writeString(hosts, original + "127.0.0.2 moving.oqp.test\n");
            Sidecar sidecar = fixture.start(service("ui", URI.create("http://moving.oqp.test:" + port)));
            URI version = base(sidecar, "ui").resolve("/api/version");
            assertThat(fixture.get(version).statusCode()).isEqualTo(200);
            assertThat(before.requests()).hasSize(1);

            // The container restarts with a new address, same name and port; the sidecar keeps running.
            before.stop();
            Files.writeString(hosts, original + "127.0.0.3 moving.oqp.test\n");
            try (FakeOllama after = FakeOllama.builder().listen("127.0.0.3", port).start()) {
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                    assertThat(fixture.get(version).statusCode()).isEqualTo(200);
                    assertThat(after.requests()).isNotEmpty();
                });
            }
        } finally {
            Files.writeString(hosts, original);
        }
    }

    @Test
    void eachServicePortInjectsItsOwnHeaders() throws Exception {
        ollama(FakeOllama.builder());
        int a = SidecarFixture.freePort();
        int b = SidecarFixture.freePort();
        Sidecar sidecar = fixture.start("services:\n"
                + "  - name: alpha\n    listen: " + a + "\n    upstream: " + ollama.baseUri()
                + "\n    headers: {Authorization: \"Bearer A\"}\n"
                + "  - name: beta\n    listen: " + b + "\n    upstream: " + ollama.baseUri()
                + "\n    headers: {Authorization: \"Bearer B\"}\n");

        fixture.get(base(sidecar, "alpha").resolve("/api/version"));
        fixture.get(base(sidecar, "beta").resolve("/api/version"));

        assertThat(ollama.requests()).extracting(r -> r.header("Authorization") + " " + r.header("X-Client-Name"))
                .containsExactly("Bearer A alpha", "Bearer B beta");
    }

    @Test
    void metricsPortCountsRequestsPerServiceAndStatus() throws Exception {
        ollama(FakeOllama.builder());
        int metricsPort = SidecarFixture.freePort();
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri())
                + "sidecar:\n  metrics_port: " + metricsPort + "\n  drain_timeout: 1s\n");

        fixture.get(base(sidecar, "ui").resolve("/api/version"));
        fixture.get(base(sidecar, "ui").resolve("/api/nosuch"));
        HttpResponse<String> metrics = fixture.get(URI.create("http://127.0.0.1:" + metricsPort + "/metrics"));

        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body())
                .contains("oqp_sidecar_requests_total{service=\"ui\",status=\"200\"} 1")
                .contains("oqp_sidecar_requests_total{service=\"ui\",status=\"404\"} 1")
                .contains("oqp_sidecar_upstream_seconds_count{service=\"ui\"} 2");
    }

    @Test
    void clientClosingRightAfterACompleteResponseIsCountedAsSuccess() throws Exception {
        ollama(FakeOllama.builder());
        int metricsPort = SidecarFixture.freePort();
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri())
                + "sidecar:\n  metrics_port: " + metricsPort + "\n  drain_timeout: 1s\n");

        for (int i = 0; i < 20; i++) {
            try (Socket socket = SidecarFixture.rawRequest(sidecar.port("ui"), "GET", "/api/version",
                    Map.of("Connection", "keep-alive"), null)) {
                // Close the moment the body is complete, as curl does when it exits.
                SidecarFixture.readUntil(socket.getInputStream(), "\"}");
            }
        }

        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(fixture.get(URI.create("http://127.0.0.1:" + metricsPort + "/metrics")).body())
                        .contains("oqp_sidecar_requests_total{service=\"ui\",status=\"200\"} 20")
                        .doesNotContain("status=\"499\""));
    }

    @Test
    void stopLetsAStreamInProgressFinishAndRefusesNewConnections() throws Exception {
        ollama(FakeOllama.builder().installed("llama3:latest")
                .tokens(List.of("a", "b", "c", "d", "e", "f", "g", "h", "i", "j")).tokenDelay(Duration.ofMillis(100)));
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri()) + "sidecar:\n  drain_timeout: 10s\n");
        int port = sidecar.port("ui");

        try (Socket socket = SidecarFixture.rawRequest(port, "POST", "/api/generate", Map.of(),
                "{\"model\":\"llama3\",\"prompt\":\"hi\"}")) {
            InputStream in = socket.getInputStream();
            SidecarFixture.readUntil(in, "\"done\":false");
            Thread stopper = new Thread(() -> {
                try {
                    sidecar.stop();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            stopper.start();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> {
                try (Socket probe = new Socket(java.net.InetAddress.getLoopbackAddress(), port)) {
                    return false;
                } catch (java.io.IOException refused) {
                    return true;
                }
            });
            String rest = SidecarFixture.readUntil(in, "\"done\":true")
                    + new String(in.readAllBytes(), StandardCharsets.UTF_8);
            assertThat(rest).contains("\"done_reason\"");
            stopper.join(5000);
        }
        assertThat(ollama.requests().get(0).cancelled()).isFalse();
    }
}
