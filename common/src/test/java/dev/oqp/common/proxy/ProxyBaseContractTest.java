package dev.oqp.common.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.Fault;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.common.testing.TestSockets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The contract of {@link ProxyBase}, end to end: a real client, a binary built on the proxy base and a fake Ollama,
 * all on loopback. Each binary runs it through a subclass that starts that binary in front of an upstream
 * ({@link #start}); a case that cannot hold for a binary by design is opted out of in {@link #optOut(Case)}, with
 * the reason, and shows as skipped.
 */
public abstract class ProxyBaseContractTest {
    /** The header every proxy under test injects into its upstream requests: it must never reach a client. */
    protected static final String INJECTED_AUTHORIZATION = "Bearer k";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String GENERATE = "{\"model\":\"llama3\",\"prompt\":\"hi\"}";

    /** The cases of the contract, named for {@link #optOut(Case)}. */
    protected enum Case {
        CONNECT_AND_TRACE_REFUSED, ASTERISK_TARGET_IS_400, BACK_TO_BACK_KEEP_ALIVE, FORWARDING_HEADERS_REPLACED,
        HOP_BY_HOP_REQUEST_HEADERS_DROPPED, HOP_BY_HOP_RESPONSE_HEADERS_DROPPED, CLIENT_STALLING_BODY_IS_408, UPSTREAM_HOST_IS_UPSTREAM_AUTHORITY,
        STREAMED_LINES_NOT_BUFFERED, TEN_MEBIBYTE_BODY_INTACT, BODY_AFTER_100_CONTINUE, DECLARED_BODY_OVER_LIMIT_413,
        CHUNKED_BODY_OVER_LIMIT_413, REFUSED_UPSTREAM_502, SILENT_UPSTREAM_504, STREAM_BREAKING_ENDS_WITH_ERROR_LINE,
        STREAM_STALLING_ENDS_WITH_TIMEOUT_LINE, DISCONNECT_MID_STREAM_CLOSES_UPSTREAM,
        DISCONNECT_DURING_MODEL_LOAD_CLOSES_UPSTREAM, MODEL_LOAD_OUTLIVES_CLIENT_IDLE_TIMEOUT,
        CLIENT_THAT_LEFT_GETS_NO_ERROR_PAGE, CLIENT_RESET_MID_BODY_LEAVES_PROXY_SERVING, BODY_CUT_SHORT_IS_400,
        MALFORMED_CHUNKED_BODY_IS_400, STREAMED_BODY_STALLING_IS_408, SLOW_UPSTREAM_HEADERS_WAITED_FOR,
        CLOSE_DELIMITED_NDJSON_BREAKING_ENDS_WITH_ERROR_LINE, CLOSE_DELIMITED_SSE_BREAKING_ENDS_WITH_ERROR_EVENT
    }

    /** A binary started by {@link #start}; closed after each case. */
    protected interface ProxyUnderTest extends AutoCloseable {
        /** The port of the listener under test. */
        int port();

        /** Sets the idle timeout of the client connections of that listener. */
        void clientIdleTimeout(Duration timeout);
    }

    /**
     * Starts the binary under test with one listener in front of {@code upstream}: upstream idle timeout
     * {@code idleTimeout} (null: the binary's default), request bodies up to {@code maxBody} bytes (negative: the
     * binary's default), and {@link #INJECTED_AUTHORIZATION} injected as {@code Authorization} upstream.
     */
    protected abstract ProxyUnderTest start(URI upstream, Duration idleTimeout, long maxBody) throws Exception;

    /** Null when {@code contractCase} holds for the binary under test, else why it cannot by design. */
    protected String optOut(Case contractCase) {
        return null;
    }

    /**
     * The method and path of a request whose body the proxy base streams upstream as it arrives (rather than a
     * subclass reading it first), for the cases of a body that breaks. Default {@code POST /api/generate}.
     */
    protected String streamedBodyRequest() {
        return "POST /api/generate";
    }

    /** A {@code Host} name a client sends that is not the upstream's and that the binary accepts. */
    protected String clientHostName() {
        return "ollama.example.com";
    }

    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private final List<AutoCloseable> started = new ArrayList<>();
    private FakeOllama ollama;

    @AfterEach
    void stopAll() throws Exception {
        for (AutoCloseable closeable : started) {
            closeable.close();
        }
        if (ollama != null) {
            ollama.stop();
        }
    }

    private void supported(Case contractCase) {
        String reason = optOut(contractCase);
        assumeTrue(reason == null, reason);
    }

    private FakeOllama ollama(FakeOllama.Builder builder) {
        ollama = builder.start();
        return ollama;
    }

    private ProxyUnderTest proxy(Duration idleTimeout, long maxBody) throws Exception {
        ProxyUnderTest proxy = start(ollama.baseUri(), idleTimeout, maxBody);
        started.add(proxy);
        return proxy;
    }

    private ProxyUnderTest proxy() throws Exception {
        return proxy(null, -1);
    }

    private static URI uri(ProxyUnderTest proxy, String path) {
        return URI.create("http://127.0.0.1:" + proxy.port() + path);
    }

    private HttpResponse<String> get(URI uri) throws Exception {
        return http.send(HttpRequest.newBuilder(uri).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(URI uri, String json) throws Exception {
        return http.send(HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofString(json))
                .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void connectAndTraceAreRefusedWithoutReachingUpstream() throws Exception {
        supported(Case.CONNECT_AND_TRACE_REFUSED);
        ollama(FakeOllama.builder());
        ProxyUnderTest proxy = proxy();

        String authority = clientHostName() + ":443";
        for (String requestLine : List.of("CONNECT " + authority + " HTTP/1.1", "TRACE / HTTP/1.1")) {
            try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), proxy.port())) {
                socket.getOutputStream().write((requestLine + "\r\nHost: " + authority + "\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                socket.setSoTimeout(10_000);
                String response = TestSockets.readUntil(socket.getInputStream(), "}");
                assertThat(response).as(requestLine).startsWith("HTTP/1.1 405").doesNotContain(INJECTED_AUTHORIZATION);
            }
        }
        assertThat(ollama.requests()).isEmpty();
    }

    @Test
    void asteriskRequestTargetIsABadRequest() throws Exception {
        supported(Case.ASTERISK_TARGET_IS_400);
        ollama(FakeOllama.builder());
        ProxyUnderTest proxy = proxy();

        try (Socket socket = TestSockets.rawRequest(proxy.port(), "OPTIONS", "*", Map.of(), null)) {
            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(response).startsWith("HTTP/1.1 400");
        }
        assertThat(ollama.requests()).isEmpty();
    }

    @Test
    void backToBackRequestsOnOneKeepAliveConnectionArriveIntact() throws Exception {
        supported(Case.BACK_TO_BACK_KEEP_ALIVE);
        ollama(FakeOllama.builder());
        ProxyUnderTest proxy = proxy();
        int rounds = 300;

        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), proxy.port())) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            byte[] request = ("GET /api/version HTTP/1.1\r\nHost: " + clientHostName() + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII);
            for (int i = 0; i < rounds; i++) {
                out.write(request);
                out.flush();
                // The next request goes out the moment this response's body is in.
                TestSockets.readUntil(in, "\"}");
            }
        }

        ollama.awaitRequests(rounds, Duration.ofSeconds(5));
        assertThat(ollama.requests()).hasSize(rounds)
                .allSatisfy(r -> assertThat(r.method() + " " + r.path()).isEqualTo("GET /api/version"));
    }

    @Test
    void forwardingHeadersClaimedByTheClientAreReplacedByThePeerAddress() throws Exception {
        supported(Case.FORWARDING_HEADERS_REPLACED);
        ollama(FakeOllama.builder());
        ProxyUnderTest proxy = proxy();

        http.send(HttpRequest.newBuilder(uri(proxy, "/api/version"))
                .header("X-Forwarded-For", "1.2.3.4").header("Forwarded", "for=1.2.3.4").GET().build(),
                HttpResponse.BodyHandlers.discarding());

        RecordedRequest received = ollama.requests().get(0);
        assertThat(received.headerValues("X-Forwarded-For")).containsExactly("127.0.0.1");
        assertThat(received.header("Forwarded")).isNull();
    }

    @Test
    void hopByHopAndConnectionListedRequestHeadersAreNotForwarded() throws Exception {
        supported(Case.HOP_BY_HOP_REQUEST_HEADERS_DROPPED);
        ollama(FakeOllama.builder());
        ProxyUnderTest proxy = proxy();
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("Connection", "close, X-Hop");
        headers.put("X-Hop", "per-connection");
        headers.put("Keep-Alive", "timeout=5");
        headers.put("Proxy-Authorization", "Basic cHJveHk6c2VjcmV0");
        headers.put("TE", "trailers");
        headers.put("X-End-To-End", "kept");

        try (Socket socket = TestSockets.rawRequest(proxy.port(), "GET", "/api/version", headers, null)) {
            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(response).startsWith("HTTP/1.1 200");
        }

        RecordedRequest received = ollama.requests().get(0);
        assertThat(received.header("X-End-To-End")).isEqualTo("kept");
        for (String hop : List.of("X-Hop", "Keep-Alive", "Proxy-Authorization", "TE")) {
            assertThat(received.header(hop)).as(hop).isNull();
        }
    }

    @Test
    void hopByHopAndConnectionListedResponseHeadersAreNotPassedOn() throws Exception {
        supported(Case.HOP_BY_HOP_RESPONSE_HEADERS_DROPPED);
        ollama(FakeOllama.builder().responseHeaders(Map.of("Connection", "X-Hop", "X-Hop", "per-connection",
                "Keep-Alive", "timeout=5", "Proxy-Authenticate", "Basic", "X-End-To-End", "kept")));
        ProxyUnderTest proxy = proxy();

        String direct = responseHead(ollama.port(), "/api/version");
        String head = responseHead(proxy.port(), "/api/version");

        assertThat(direct).as("what the upstream sends").contains("\r\nx-hop: per-connection\r\n")
                .contains("\r\nkeep-alive: timeout=5\r\n").contains("\r\nproxy-authenticate: basic\r\n");
        assertThat(head).startsWith("http/1.1 200").contains("\r\nx-end-to-end: kept\r\n");
        for (String hop : List.of("x-hop", "keep-alive", "proxy-authenticate")) {
            assertThat(head).as(hop).doesNotContain("\r\n" + hop + ":");
        }
    }

    /** The status line and headers, lower case, of a raw {@code GET path} to {@code port}. */
    private static String responseHead(int port, String path) throws Exception {
        try (Socket socket = TestSockets.rawRequest(port, "GET", path, Map.of(), null)) {
            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return response.substring(0, response.indexOf("\r\n\r\n") + 2).toLowerCase(Locale.ROOT);
        }
    }

    @Test
    void clientStallingItsBodyGets408NotAnUpstreamTimeout() throws Exception {
        supported(Case.CLIENT_STALLING_BODY_IS_408);
        ollama(FakeOllama.builder().installed("llama3:latest"));
        ProxyUnderTest proxy = proxy();
        proxy.clientIdleTimeout(Duration.ofMillis(300));

        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), proxy.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("POST /api/generate HTTP/1.1\r\nHost: " + clientHostName()
                    + "\r\nContent-Length: 500\r\n\r\n{\"model\"").getBytes(StandardCharsets.US_ASCII));
            String response = TestSockets.readUntil(socket.getInputStream(), "}");
            assertThat(response).startsWith("HTTP/1.1 408").contains("{\"error\":\"request body not received in time\"}");
        }
    }

    @Test
    void upstreamHostHeaderIsTheUpstreamAuthority() throws Exception {
        supported(Case.UPSTREAM_HOST_IS_UPSTREAM_AUTHORITY);
        ollama(FakeOllama.builder().checkHost(true));
        ProxyUnderTest proxy = proxy();

        try (Socket socket = TestSockets.rawRequest(proxy.port(), "GET", "/",
                Map.of("Host", clientHostName()), null)) {
            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(response).startsWith("HTTP/1.1 200").endsWith("Ollama is running");
        }
        RecordedRequest received = ollama.requests().get(0);
        assertThat(received.header("Host")).isEqualTo("127.0.0.1:" + ollama.port());
        assertThat(received.header("X-Forwarded-Host")).isEqualTo(clientHostName());
    }

    @Test
    void streamedLinesReachTheClientWhileTheUpstreamIsStillGenerating() throws Exception {
        supported(Case.STREAMED_LINES_NOT_BUFFERED);
        List<String> tokens = List.of("a", "b", "c", "d", "e", "f", "g", "h");
        ollama(FakeOllama.builder().installed("llama3:latest").tokens(tokens).tokenDelay(Duration.ofMillis(150)));
        ProxyUnderTest proxy = proxy();

        HttpResponse<InputStream> response = http.send(HttpRequest.newBuilder(uri(proxy, "/api/generate"))
                .POST(HttpRequest.BodyPublishers.ofString(GENERATE)).build(), HttpResponse.BodyHandlers.ofInputStream());
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
    void streamedAnswersTellIntermediariesNotToBufferThem() throws Exception {
        ollama(FakeOllama.builder().installed("llama3:latest"));
        ProxyUnderTest proxy = proxy();

        HttpResponse<String> ndjson = http.send(HttpRequest.newBuilder(uri(proxy, "/api/generate"))
                .POST(HttpRequest.BodyPublishers.ofString(GENERATE)).build(), HttpResponse.BodyHandlers.ofString());
        HttpResponse<String> sse = http.send(HttpRequest.newBuilder(uri(proxy, "/v1/chat/completions"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"llama3\",\"stream\":true,"
                        + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")).build(),
                HttpResponse.BodyHandlers.ofString());
        HttpResponse<String> json = http.send(HttpRequest.newBuilder(uri(proxy, "/api/tags")).GET().build(),
                HttpResponse.BodyHandlers.ofString());

        assertThat(ndjson.statusCode()).isEqualTo(200);
        assertThat(ndjson.headers().firstValue("X-Accel-Buffering")).as("NDJSON").hasValue("no");
        assertThat(sse.statusCode()).isEqualTo(200);
        assertThat(sse.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/event-stream"));
        assertThat(sse.headers().firstValue("X-Accel-Buffering")).as("SSE").hasValue("no");
        assertThat(json.headers().firstValue("X-Accel-Buffering")).as("an answer that is not streamed").isEmpty();
    }

    @Test
    void tenMebibyteBodyPassesIntact() throws Exception {
        supported(Case.TEN_MEBIBYTE_BODY_INTACT);
        ollama(FakeOllama.builder().installed("llama3:latest"));
        ProxyUnderTest proxy = proxy(null, 64L << 20);
        char[] prompt = new char[10 << 20];
        Arrays.fill(prompt, 'x');
        String body = "{\"model\":\"llama3\",\"stream\":false,\"prompt\":\"" + new String(prompt) + "\"}";

        HttpResponse<String> response = post(uri(proxy, "/api/generate"), body);

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(ollama.requests().get(0).body()).isEqualTo(body.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void bodyAfterExpect100ContinueIsForwarded() throws Exception {
        supported(Case.BODY_AFTER_100_CONTINUE);
        ollama(FakeOllama.builder().installed("llama3:latest"));
        ProxyUnderTest proxy = proxy();
        String body = "{\"model\":\"llama3\",\"stream\":false,\"prompt\":\"" + "p".repeat(2 << 20) + "\"}";

        HttpResponse<String> response = http.send(HttpRequest.newBuilder(uri(proxy, "/api/generate"))
                .expectContinue(true)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(ollama.requests().get(0).body()).hasSize(body.length());
    }

    @Test
    void declaredBodyOverMaxBodyGets413WithoutReachingUpstream() throws Exception {
        supported(Case.DECLARED_BODY_OVER_LIMIT_413);
        ollama(FakeOllama.builder());
        ProxyUnderTest proxy = proxy(null, 1L << 20);

        HttpResponse<String> response = post(uri(proxy, "/api/embed"),
                "{\"model\":\"m\",\"input\":\"" + "y".repeat((1 << 20) + 1) + "\"}");

        assertThat(response.statusCode()).isEqualTo(413);
        assertThat(JSON.readTree(response.body()).get("error").asText())
                .isEqualTo("request body too large (limit 1048576 bytes)");
        assertThat(ollama.requests()).isEmpty();
    }

    @Test
    void chunkedBodyGrowingOverMaxBodyGets413() throws Exception {
        supported(Case.CHUNKED_BODY_OVER_LIMIT_413);
        ollama(FakeOllama.builder().installed("m:latest"));
        ProxyUnderTest proxy = proxy(null, 64L << 10);
        byte[] body = ("{\"model\":\"m\",\"input\":\"" + "z".repeat(256 << 10) + "\"}").getBytes(StandardCharsets.UTF_8);

        HttpResponse<String> response = http.send(HttpRequest.newBuilder(uri(proxy, "/v1/embeddings"))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body))).build(),
                HttpResponse.BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(413);
        JsonNode error = JSON.readTree(response.body()).get("error");
        assertThat(error.get("message").asText()).isEqualTo("request body too large (limit 65536 bytes)");
        assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
    }

    @Test
    void refusedUpstreamGets502InTheShapeOfEachApi() throws Exception {
        supported(Case.REFUSED_UPSTREAM_502);
        ollama(FakeOllama.builder().installed("llama3:latest"));
        // A proxy for each shape: one that could not connect may take its upstream for down and stop trying it.
        ProxyUnderTest forOllamaShape = proxy();
        ProxyUnderTest forOpenAiShape = proxy();
        ollama.fault(Fault.refuseConnections());

        HttpResponse<String> ollamaShape = post(uri(forOllamaShape, "/api/chat"),
                "{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        HttpResponse<String> openAiShape = get(uri(forOpenAiShape, "/v1/models/llama3"));

        assertThat(ollamaShape.statusCode()).isEqualTo(502);
        assertThat(ollamaShape.body()).isEqualTo("{\"error\":\"upstream unreachable\"}");
        assertThat(openAiShape.statusCode()).isEqualTo(502);
        assertThat(JSON.readTree(openAiShape.body()).at("/error/message").asText()).isEqualTo("upstream unreachable");
        assertThat(JSON.readTree(openAiShape.body()).at("/error/type").asText()).isEqualTo("api_error");
    }

    @Test
    void upstreamSilentPastTimeoutGets504() throws Exception {
        supported(Case.SILENT_UPSTREAM_504);
        ollama(FakeOllama.builder().installed("llama3:latest"));
        ProxyUnderTest proxy = proxy(Duration.ofMillis(400), -1);
        ollama.fault(Fault.stallAfterLines(0));

        long start = System.nanoTime();
        HttpResponse<String> response = post(uri(proxy, "/api/generate"), GENERATE);

        assertThat(response.statusCode()).isEqualTo(504);
        assertThat(response.body()).isEqualTo("{\"error\":\"upstream timed out\"}");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    }

    @Test
    void streamThatBreaksMidwayEndsWithAnErrorLine() throws Exception {
        supported(Case.STREAM_BREAKING_ENDS_WITH_ERROR_LINE);
        ollama(FakeOllama.builder().installed("llama3:latest").tokenDelay(Duration.ofMillis(10)));
        ProxyUnderTest proxy = proxy();
        ollama.fault(Fault.resetAfterLines(2));

        HttpResponse<String> response = post(uri(proxy, "/api/chat"),
                "{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");

        assertThat(response.statusCode()).isEqualTo(200);
        String[] lines = response.body().split("\n");
        assertThat(lines).hasSize(3);
        assertThat(JSON.readTree(lines[0]).has("message")).isTrue();
        assertThat(JSON.readTree(lines[2]).get("error").asText()).isEqualTo("upstream connection failed");
    }

    @Test
    void streamThatStallsMidwayEndsWithATimeoutLine() throws Exception {
        supported(Case.STREAM_STALLING_ENDS_WITH_TIMEOUT_LINE);
        ollama(FakeOllama.builder().installed("llama3:latest").tokenDelay(Duration.ofMillis(10)));
        ProxyUnderTest proxy = proxy(Duration.ofMillis(400), -1);
        ollama.fault(Fault.stallAfterLines(1));

        HttpResponse<String> response = post(uri(proxy, "/api/generate"), GENERATE);

        String[] lines = response.body().split("\n");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(lines).hasSize(2);
        assertThat(lines[1]).isEqualTo("{\"error\":\"upstream timed out\"}");
    }

    @Test
    void clientDisconnectMidStreamClosesTheUpstreamWithinASecond() throws Exception {
        supported(Case.DISCONNECT_MID_STREAM_CLOSES_UPSTREAM);
        ollama(FakeOllama.builder().installed("llama3:latest")
                .tokens(List.of("1", "2", "3", "4", "5", "6", "7", "8", "9", "10"))
                .tokenDelay(Duration.ofMillis(200)));
        ProxyUnderTest proxy = proxy();

        long closed;
        try (Socket socket = TestSockets.rawRequest(proxy.port(), "POST", "/api/generate", Map.of(), GENERATE)) {
            TestSockets.readUntil(socket.getInputStream(), "\"done\":false");
            closed = System.nanoTime();
        }

        RecordedRequest upstream = ollama.requests().get(0).awaitCancelled(Duration.ofSeconds(2));
        assertThat(Duration.ofNanos(upstream.cancelledNanos() - closed)).isLessThan(Duration.ofSeconds(1));
        assertThat(upstream.lineWriteNanos().size()).isLessThan(11);
    }

    @Test
    void clientDisconnectDuringModelLoadClosesTheUpstreamWithinASecond() throws Exception {
        supported(Case.DISCONNECT_DURING_MODEL_LOAD_CLOSES_UPSTREAM);
        ollama(FakeOllama.builder().installed("llama3:latest").firstByteDelay(Duration.ofSeconds(20)));
        ProxyUnderTest proxy = proxy();

        long closed;
        try (Socket socket = TestSockets.rawRequest(proxy.port(), "POST", "/api/generate", Map.of(), GENERATE)) {
            ollama.awaitRequests(1, Duration.ofSeconds(5));
            closed = System.nanoTime();
        }

        RecordedRequest upstream = ollama.requests().get(0).awaitCancelled(Duration.ofSeconds(10));
        assertThat(Duration.ofNanos(upstream.cancelledNanos() - closed)).isLessThan(Duration.ofSeconds(1));
    }

    @Test
    void modelLoadLongerThanTheClientConnectionIdleTimeoutIsNotCut() throws Exception {
        supported(Case.MODEL_LOAD_OUTLIVES_CLIENT_IDLE_TIMEOUT);
        ollama(FakeOllama.builder().installed("llama3:latest").firstByteDelay(Duration.ofMillis(1500)));
        ProxyUnderTest proxy = proxy();
        proxy.clientIdleTimeout(Duration.ofMillis(300));

        HttpResponse<String> response = post(uri(proxy, "/api/generate"),
                "{\"model\":\"llama3\",\"prompt\":\"hi\",\"stream\":false}");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(response.body()).get("done").asBoolean()).isTrue();
        assertThat(ollama.requests().get(0).cancelled()).isFalse();
    }

    @Test
    void clientThatLeavesBeforeAnAnswerGetsNoErrorPage() throws Exception {
        supported(Case.CLIENT_THAT_LEFT_GETS_NO_ERROR_PAGE);
        ollama(FakeOllama.builder().installed("llama3:latest").firstByteDelay(Duration.ofSeconds(20)));
        ProxyUnderTest proxy = proxy();

        try (Socket socket = TestSockets.rawRequest(proxy.port(), "POST", "/api/generate", Map.of(), GENERATE)) {
            ollama.awaitRequests(1, Duration.ofSeconds(5));
            socket.shutdownOutput();
            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(response).as("a client that is gone gets no HTML error page").isEmpty();
        }
        ollama.requests().get(0).awaitCancelled(Duration.ofSeconds(2));
    }

    @Test
    void clientResettingMidBodyLeavesTheProxyServing() throws Exception {
        supported(Case.CLIENT_RESET_MID_BODY_LEAVES_PROXY_SERVING);
        ollama(FakeOllama.builder().installed("llama3:latest"));
        ProxyUnderTest proxy = proxy();

        try (Socket socket = streamedBodyHead(proxy, "Content-Length: 1000", "{\"model\":\"llama3\"")) {
            // The proxy must have taken the request and be streaming its body when the reset comes.
            Thread.sleep(200);
            socket.setSoLinger(true, 0);
        }

        assertThat(get(uri(proxy, "/api/version")).statusCode()).isEqualTo(200);
        assertThat(ollama.requests()).as("the upstream never gets a whole request from the client that left")
                .extracting(RecordedRequest::path).containsExactly("/api/version");
    }

    @Test
    void bodyCutShortOfItsLengthIs400AndTheConnectionCloses() throws Exception {
        supported(Case.BODY_CUT_SHORT_IS_400);
        ollama(FakeOllama.builder().installed("llama3:latest"));
        ProxyUnderTest proxy = proxy();

        try (Socket socket = streamedBodyHead(proxy, "Content-Length: 1000", "{\"model\":\"llama3\"")) {
            socket.shutdownOutput();

            assertInvalidBodyAnswer(socket);
        }
    }

    @Test
    void malformedChunkedBodyIs400AndTheConnectionCloses() throws Exception {
        supported(Case.MALFORMED_CHUNKED_BODY_IS_400);
        ollama(FakeOllama.builder().installed("llama3:latest"));
        ProxyUnderTest proxy = proxy();

        try (Socket socket = streamedBodyHead(proxy, "Transfer-Encoding: chunked", "5\r\n{\"mod\r\nzz\r\n")) {
            assertInvalidBodyAnswer(socket);
        }
    }

    /** The client whose body broke gets 400, and the connection ends (what is left of the body cannot be parsed). */
    private static void assertInvalidBodyAnswer(Socket socket) throws Exception {
        String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(response).startsWith("HTTP/1.1 400 ").containsIgnoringCase("\r\nConnection: close\r\n")
                .endsWith("{\"error\":\"request body incomplete or malformed\"}");
    }

    @Test
    void clientStallingAStreamedBodyGets408() throws Exception {
        supported(Case.STREAMED_BODY_STALLING_IS_408);
        ollama(FakeOllama.builder().installed("llama3:latest"));
        ProxyUnderTest proxy = proxy();
        proxy.clientIdleTimeout(Duration.ofMillis(300));

        try (Socket socket = streamedBodyHead(proxy, "Content-Length: 500", "{\"model\"")) {
            String response = TestSockets.readUntil(socket.getInputStream(), "}");

            assertThat(response).startsWith("HTTP/1.1 408").contains("{\"error\":\"request body not received in time\"}");
        }
    }

    @Test
    void upstreamHeadersSlowerThanTheClientIdleTimeoutAreWaitedFor() throws Exception {
        supported(Case.SLOW_UPSTREAM_HEADERS_WAITED_FOR);
        ollama(FakeOllama.builder());
        ProxyUnderTest proxy = proxy();
        proxy.clientIdleTimeout(Duration.ofMillis(300));
        ollama.fault(Fault.slowHeaders(Duration.ofMillis(1200)));

        HttpResponse<String> response = get(uri(proxy, "/api/version"));

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(response.body()).has("version")).isTrue();
    }

    @Test
    void ndjsonStreamBreakingEndsWithAnErrorLineWithoutChunkedFraming() throws Exception {
        supported(Case.CLOSE_DELIMITED_NDJSON_BREAKING_ENDS_WITH_ERROR_LINE);
        ollama(FakeOllama.builder().installed("llama3:latest").tokenDelay(Duration.ofMillis(10)));
        ProxyUnderTest proxy = proxy();
        ollama.fault(Fault.resetAfterLines(2));
        String chat = "{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

        for (String client : List.of("HTTP/1.0", "HTTP/1.1 with Connection: close")) {
            String body = closeDelimitedBody(proxy, client, "/api/chat", chat);

            String[] lines = body.split("\n");
            assertThat(lines).as(client).hasSize(3);
            assertThat(JSON.readTree(lines[1]).has("message")).as(client).isTrue();
            assertThat(lines[2]).as(client).isEqualTo("{\"error\":\"upstream connection failed\"}");
        }
    }

    @Test
    void sseStreamBreakingEndsWithAnErrorEventWithoutChunkedFraming() throws Exception {
        supported(Case.CLOSE_DELIMITED_SSE_BREAKING_ENDS_WITH_ERROR_EVENT);
        ollama(FakeOllama.builder().installed("llama3:latest").tokenDelay(Duration.ofMillis(10)));
        ProxyUnderTest proxy = proxy();
        ollama.fault(Fault.resetAfterLines(2));
        String chat = "{\"model\":\"llama3\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

        for (String client : List.of("HTTP/1.0", "HTTP/1.1 with Connection: close")) {
            String body = closeDelimitedBody(proxy, client, "/v1/chat/completions", chat);

            String[] events = body.split("\n\n");
            assertThat(events).as(client).hasSize(3);
            assertThat(events[1]).as(client).startsWith("data: {");
            assertThat(events[2]).as(client).startsWith("event: error\ndata: ");
            JsonNode error = JSON.readTree(events[2].substring("event: error\ndata: ".length())).get("error");
            assertThat(error.get("message").asText()).as(client).isEqualTo("upstream connection failed");
            assertThat(error.get("type").asText()).as(client).isEqualTo("api_error");
            assertThat(body).as(client).endsWith("\n\n").doesNotContain("[DONE]");
        }
    }

    /**
     * Opens a raw connection and sends the head of {@link #streamedBodyRequest()} with {@code framing} (a
     * {@code Content-Length} or {@code Transfer-Encoding} line) and then {@code bodyBytes}, nothing more.
     */
    private Socket streamedBodyHead(ProxyUnderTest proxy, String framing, String bodyBytes) throws Exception {
        Socket socket = new Socket(InetAddress.getLoopbackAddress(), proxy.port());
        socket.setSoTimeout(10_000);
        socket.getOutputStream().write((streamedBodyRequest() + " HTTP/1.1\r\nHost: " + clientHostName() + "\r\n"
                + "Content-Type: application/json\r\n" + framing + "\r\n\r\n" + bodyBytes)
                .getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
        return socket;
    }

    /**
     * POSTs {@code json} as an HTTP/1.0 client or an HTTP/1.1 one that sends {@code Connection: close}, neither of
     * which gets chunked framing, and returns the body read until the proxy closed the connection.
     */
    private String closeDelimitedBody(ProxyUnderTest proxy, String client, String path, String json) throws Exception {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        boolean http10 = client.startsWith("HTTP/1.0");
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), proxy.port())) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST " + path + (http10 ? " HTTP/1.0" : " HTTP/1.1\r\nConnection: close") + "\r\nHost: "
                    + clientHostName() + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String head = response.substring(0, response.indexOf("\r\n\r\n") + 2);
            assertThat(head).as(client).matches("(?s)HTTP/1\\.[01] 200 .*").doesNotContainIgnoringCase("chunked");
            return response.substring(head.length() + 2);
        }
    }
}
