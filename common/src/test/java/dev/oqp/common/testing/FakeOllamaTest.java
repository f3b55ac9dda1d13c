package dev.oqp.common.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FakeOllamaTest {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final Duration SECOND = Duration.ofSeconds(1);
    private static final Duration WAIT = Duration.ofSeconds(5);

    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final List<Socket> sockets = new ArrayList<>();
    private FakeOllama fake;

    @AfterEach
    void tearDown() throws IOException {
        for (Socket socket : sockets) {
            socket.close();
        }
        if (fake != null) {
            fake.close();
        }
    }

    private FakeOllama start(FakeOllama.Builder builder) {
        fake = builder.start();
        return fake;
    }

    private HttpResponse<String> send(String method, String path, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(fake.baseUri().resolve(path)).timeout(WAIT);
        request.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(String path, String body) throws Exception {
        return send("POST", path, body);
    }

    private static JsonNode json(String text) throws IOException {
        return MAPPER.readTree(text);
    }

    private static List<JsonNode> ndjson(String text) throws IOException {
        List<JsonNode> lines = new ArrayList<>();
        for (String line : text.split("\n")) {
            lines.add(json(line));
        }
        return lines;
    }

    /** A raw HTTP/1.1 client: lets a test read part of a response and then drop the connection. */
    private BufferedReader rawPost(String path, String body) throws IOException {
        Socket socket = new Socket("127.0.0.1", fake.port());
        socket.setSoTimeout((int) WAIT.toMillis());
        sockets.add(socket);
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        socket.getOutputStream().write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + bytes.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().write(bytes);
        socket.getOutputStream().flush();
        return new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
    }

    /** Reads the response head and returns the status line. */
    private static String readHead(BufferedReader reader) throws IOException {
        String status = reader.readLine();
        String line;
        while ((line = reader.readLine()) != null && !line.isEmpty()) {
            // skip headers
        }
        return status;
    }

    /** Reads the next NDJSON line of a chunked body (skipping the chunk-size lines). */
    private static String readJsonLine(BufferedReader reader) throws IOException {
        String line;
        while ((line = reader.readLine()) != null) {
            if (line.startsWith("{")) {
                return line;
            }
        }
        return null;
    }

    @Test
    void probesOfTheQueueProxyAreRecordedApartFromTheRequestsUnderTest() throws Exception {
        start(FakeOllama.builder());
        HttpRequest probe = HttpRequest.newBuilder(fake.baseUri().resolve("/api/tags")).timeout(WAIT)
                .header("User-Agent", RecordedRequest.PROBE_AGENT + "/1").build();
        assertThat(client.send(probe, HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        assertThat(send("GET", "/api/ps", null).statusCode()).isEqualTo(200);

        assertThat(fake.probes()).extracting(RecordedRequest::path).containsExactly("/api/tags");
        assertThat(fake.requests()).extracting(RecordedRequest::path).containsExactly("/api/ps");
        assertThat(fake.maxConcurrency()).isEqualTo(1);
        await().atMost(WAIT).until(() -> fake.inFlight() == 0);
    }

    @Test
    void perModelConcurrencyCountsInferenceOfEachModelAndNotLoads() throws Exception {
        start(FakeOllama.builder().installed("a", "b").tokenDelay(Duration.ofMillis(300)));
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (String model : List.of("a", "a:latest", "b")) {
            all.add(client.sendAsync(HttpRequest.newBuilder(fake.baseUri().resolve("/api/generate")).timeout(WAIT)
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model + "\",\"prompt\":\"hi\"}"))
                    .build(), HttpResponse.BodyHandlers.ofString()));
        }
        all.forEach(f -> assertThat(f.join().statusCode()).isEqualTo(200));
        // An empty prompt loads the model: not an inference that counts.
        assertThat(send("POST", "/api/generate", "{\"model\":\"b\"}").statusCode()).isEqualTo(200);
        assertThat(fake.maxConcurrency("A")).isEqualTo(2);
        assertThat(fake.maxConcurrency("b")).isEqualTo(1);
        assertThat(fake.maxConcurrency("c")).isZero();
        assertThat(fake.isLoaded("b")).isTrue();
        fake.evict("b");
        assertThat(fake.isLoaded("b")).isFalse();
        assertThat(json(send("GET", "/api/ps", null).body()).get("models")).hasSize(1);
    }

    @Test
    void rootVersionAndPlainTextErrorsLookLikeOllama() throws Exception {
        start(FakeOllama.builder());
        HttpResponse<String> root = send("GET", "/", null);
        assertThat(root.statusCode()).isEqualTo(200);
        assertThat(root.body()).isEqualTo("Ollama is running");
        assertThat(root.headers().firstValue("content-type").orElse("")).startsWith("text/plain");
        assertThat(send("HEAD", "/", null).statusCode()).isEqualTo(200);
        assertThat(json(send("GET", "/api/version", null).body()).get("version").asText()).isEqualTo("0.13.5");

        HttpResponse<String> missing = send("GET", "/api/nope", null);
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(missing.body()).isEqualTo("404 page not found");
        HttpResponse<String> wrongMethod = send("GET", "/api/generate", null);
        assertThat(wrongMethod.statusCode()).isEqualTo(405);
        assertThat(wrongMethod.body()).isEqualTo("405 method not allowed");
    }

    @Test
    void tagsAndPsListInstalledAndLoadedModels() throws Exception {
        start(FakeOllama.builder().installed("llama3:latest", "all-minilm:latest").loaded("llama3:latest"));
        JsonNode tags = json(send("GET", "/api/tags", null).body());
        assertThat(tags.get("models")).hasSize(2);
        JsonNode first = tags.get("models").get(0);
        assertThat(first.get("name").asText()).isEqualTo("llama3:latest");
        assertThat(first.get("model").asText()).isEqualTo("llama3:latest");
        assertThat(first.get("digest").asText()).hasSize(64);
        assertThat(first.has("modified_at") && first.has("size") && first.get("details").has("family")).isTrue();

        JsonNode ps = json(send("GET", "/api/ps", null).body()).get("models");
        assertThat(ps).hasSize(1);
        assertThat(ps.get(0).get("name").asText()).isEqualTo("llama3:latest");
        assertThat(ps.get(0).has("expires_at") && ps.get(0).has("size_vram") && ps.get(0).has("context_length")).isTrue();

        post("/api/embed", "{\"model\":\"ALL-MINILM\",\"input\":\"hi\"}");
        assertThat(fake.isLoaded("all-minilm")).isTrue();
        assertThat(json(send("GET", "/v1/models", null).body()).get("data")).hasSize(2);
        assertThat(json(send("GET", "/v1/models/llama3", null).body()).get("id").asText()).isEqualTo("llama3");
        assertThat(send("GET", "/v1/models/nope", null).statusCode()).isEqualTo(404);
    }

    @Test
    void streamedLinesAreFlushedOneByOneAtTheTokenDelay() throws Exception {
        start(FakeOllama.builder().tokens(List.of("Hello", " world", "!")).tokenDelay(Duration.ofMillis(150)));
        HttpResponse<InputStream> response = client.send(HttpRequest.newBuilder(fake.baseUri().resolve("/api/generate"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"llama3\",\"prompt\":\"say hello to me\"}")).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertThat(response.headers().firstValue("content-type")).hasValue("application/x-ndjson");
        BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8));
        String firstLine = reader.readLine();
        long firstArrived = System.nanoTime();
        List<String> lines = new ArrayList<>(List.of(firstLine));
        String line;
        while ((line = reader.readLine()) != null) {
            lines.add(line);
        }
        RecordedRequest recorded = fake.requests().get(0).awaitFinished(WAIT);
        assertThat(recorded.lineWriteNanos()).hasSize(4);
        assertThat(firstArrived).isLessThan(recorded.lineWriteNanos().get(3) - Duration.ofMillis(300).toNanos());
        for (int i = 1; i < 4; i++) {
            assertThat(recorded.lineWriteNanos().get(i) - recorded.lineWriteNanos().get(i - 1))
                    .isGreaterThanOrEqualTo(Duration.ofMillis(140).toNanos());
        }
        assertThat(json(firstLine).get("response").asText()).isEqualTo("Hello");
        assertThat(json(firstLine).get("done").asBoolean()).isFalse();
        JsonNode done = json(lines.get(3));
        assertThat(done.get("model").asText()).isEqualTo("llama3");
        assertThat(done.get("done").asBoolean()).isTrue();
        assertThat(done.get("done_reason").asText()).isEqualTo("stop");
        assertThat(done.get("response").asText()).isEmpty();
        assertThat(done.get("prompt_eval_count").asInt()).isEqualTo(4);
        assertThat(done.get("eval_count").asInt()).isEqualTo(3);
        for (String metric : List.of("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")) {
            assertThat(done.get(metric).asLong()).as(metric).isPositive();
        }
        assertThat(recorded.completedNanos()).isPositive();
        assertThat(recorded.cancelled()).isFalse();
        assertThat(fake.isLoaded("llama3:latest")).isTrue();
    }

    @Test
    void chatWithStreamFalseAggregatesAndNumPredictTruncates() throws Exception {
        start(FakeOllama.builder().tokens(List.of("a", "b", "c")).tokenDelay(Duration.ZERO));
        HttpResponse<String> response = post("/api/chat",
                "{\"model\":\"llama3\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":\"one two\"}]}");
        assertThat(response.headers().firstValue("content-type").orElse("")).startsWith("application/json");
        JsonNode body = json(response.body());
        assertThat(body.get("message").get("content").asText()).isEqualTo("abc");
        assertThat(body.get("message").get("role").asText()).isEqualTo("assistant");
        assertThat(body.get("done").asBoolean()).isTrue();
        assertThat(body.has("context")).isFalse();
        assertThat(body.get("prompt_eval_count").asInt()).isEqualTo(2);
        assertThat(body.get("eval_count").asInt()).isEqualTo(3);

        List<JsonNode> lines = ndjson(post("/api/chat",
                "{\"model\":\"llama3\",\"options\":{\"num_predict\":1},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}").body());
        assertThat(lines).hasSize(2);
        assertThat(lines.get(1).get("done_reason").asText()).isEqualTo("length");
        assertThat(lines.get(1).get("eval_count").asInt()).isEqualTo(1);
    }

    @Test
    void loadAndUnloadRequestsAnswerOneObject() throws Exception {
        start(FakeOllama.builder().installed("llama3:latest"));
        JsonNode load = json(post("/api/generate", "{\"model\":\"llama3\"}").body());
        assertThat(load.get("done_reason").asText()).isEqualTo("load");
        assertThat(fake.isLoaded("llama3")).isTrue();
        JsonNode unload = json(post("/api/chat", "{\"model\":\"llama3\",\"messages\":[],\"keep_alive\":0}").body());
        assertThat(unload.get("done_reason").asText()).isEqualTo("unload");
        assertThat(unload.get("message").get("content").asText()).isEmpty();
        assertThat(fake.isLoaded("llama3")).isFalse();
    }

    @Test
    void errorsUseOllamaStatusesAndMessages() throws Exception {
        start(FakeOllama.builder());
        HttpResponse<String> unknown = post("/api/generate", "{\"model\":\"nope\",\"prompt\":\"hi\"}");
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(unknown.body()).isEqualTo("{\"error\":\"model 'nope' not found\"}");
        assertThat(post("/api/chat", "{\"model\":\"\",\"messages\":[]}").body()).isEqualTo("{\"error\":\"model is required\"}");
        HttpResponse<String> embed = post("/api/embed", "{\"model\":\"nope\",\"input\":\"x\"}");
        assertThat(embed.statusCode()).isEqualTo(404);
        assertThat(json(embed.body()).get("error").asText()).isEqualTo("model \"nope\" not found, try pulling it first");
        HttpResponse<String> empty = post("/api/chat", "");
        assertThat(empty.statusCode()).isEqualTo(400);
        assertThat(empty.body()).isEqualTo("{\"error\":\"missing request body\"}");
        HttpResponse<String> malformed = post("/api/chat", "xyz");
        assertThat(malformed.statusCode()).isEqualTo(400);
        assertThat(json(malformed.body()).get("error").asText()).isEqualTo("invalid character 'x' looking for beginning of value");
        HttpResponse<String> openAi = post("/v1/chat/completions", "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
        assertThat(openAi.statusCode()).isEqualTo(404);
        assertThat(json(openAi.body()).get("error").get("type").asText()).isEqualTo("not_found_error");
    }

    @Test
    void embeddingsAreDeterministicNormalisedAndHonourDimensions() throws Exception {
        start(FakeOllama.builder());
        JsonNode first = json(post("/api/embed", "{\"model\":\"all-minilm\",\"input\":[\"hello\",\"other\"]}").body());
        JsonNode again = json(post("/api/embed", "{\"model\":\"all-minilm\",\"input\":\"hello\"}").body());
        assertThat(first.get("model").asText()).isEqualTo("all-minilm");
        assertThat(first.get("embeddings")).hasSize(2);
        assertThat(again.get("embeddings").get(0)).isEqualTo(first.get("embeddings").get(0));
        assertThat(first.get("embeddings").get(1)).isNotEqualTo(first.get("embeddings").get(0));
        assertThat(norm(first.get("embeddings").get(0))).isCloseTo(1.0, Offset.offset(1e-4));
        JsonNode small = json(post("/api/embed", "{\"model\":\"all-minilm\",\"input\":\"hello\",\"dimensions\":8}").body());
        assertThat(small.get("embeddings").get(0)).hasSize(8);
        assertThat(norm(small.get("embeddings").get(0))).isCloseTo(1.0, Offset.offset(1e-4));

        JsonNode openAi = json(post("/v1/embeddings", "{\"model\":\"all-minilm\",\"input\":\"hello\",\"encoding_format\":\"base64\"}").body());
        ByteBuffer decoded = ByteBuffer.wrap(Base64.getDecoder().decode(openAi.get("data").get(0).get("embedding").asText()))
                .order(ByteOrder.LITTLE_ENDIAN);
        assertThat(decoded.getFloat(0)).isEqualTo((float) first.get("embeddings").get(0).get(0).asDouble());
        assertThat(openAi.get("usage").get("prompt_tokens").asInt()).isEqualTo(1);
        assertThat(openAi.get("data").get(0).get("index").asInt()).isZero();
    }

    private static double norm(JsonNode vector) {
        double sum = 0;
        for (JsonNode value : vector) {
            sum += value.asDouble() * value.asDouble();
        }
        return Math.sqrt(sum);
    }

    @Test
    void chatCompletionsStreamAsServerSentEventsWithUsage() throws Exception {
        start(FakeOllama.builder().tokens(List.of("Hi", "!")).tokenDelay(Duration.ZERO));
        HttpResponse<String> response = post("/v1/chat/completions", "{\"model\":\"llama3\",\"stream\":true,"
                + "\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"a b c\"}]}");
        assertThat(response.headers().firstValue("content-type")).hasValue("text/event-stream");
        String body = response.body();
        assertThat(body).endsWith("data: [DONE]\n\n");
        String[] events = body.split("\n\n");
        assertThat(events).hasSize(5);
        for (String event : events) {
            assertThat(event).startsWith("data: ");
        }
        assertThat(json(events[0].substring(6)).at("/choices/0/delta/content").asText()).isEqualTo("Hi");
        assertThat(json(events[2].substring(6)).at("/choices/0/finish_reason").asText()).isEqualTo("stop");
        JsonNode usage = json(events[3].substring(6));
        assertThat(usage.get("choices")).isEmpty();
        assertThat(usage.at("/usage/prompt_tokens").asInt()).isEqualTo(3);
        assertThat(usage.at("/usage/completion_tokens").asInt()).isEqualTo(2);

        JsonNode plain = json(post("/v1/chat/completions", "{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}").body());
        assertThat(plain.get("object").asText()).isEqualTo("chat.completion");
        assertThat(plain.at("/choices/0/message/content").asText()).isEqualTo("Hi!");
        assertThat(plain.at("/usage/total_tokens").asInt()).isEqualTo(3);
    }

    @Test
    void recordsMethodPathQueryHeadersAndBody() throws Exception {
        start(FakeOllama.builder());
        client.send(HttpRequest.newBuilder(fake.baseUri().resolve("/api/show?x=1")).header("X-Custom", "v1")
                .header("x-custom", "v2").header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"llama3\"}")).build(), HttpResponse.BodyHandlers.ofString());
        RecordedRequest recorded = fake.awaitRequests(1, WAIT).get(0);
        assertThat(recorded.method()).isEqualTo("POST");
        assertThat(recorded.path()).isEqualTo("/api/show");
        assertThat(recorded.query()).isEqualTo("x=1");
        assertThat(recorded.header("x-CUSTOM")).isEqualTo("v1");
        assertThat(recorded.headerValues("X-Custom")).containsExactly("v1", "v2");
        assertThat(recorded.bodyJson().get("name").asText()).isEqualTo("llama3");
        assertThat(recorded.sniHost()).isNull();
        assertThat(recorded.awaitFinished(WAIT).cancelled()).isFalse();
    }

    @Test
    void pullCopyAndDeleteFollowOllama() throws Exception {
        start(FakeOllama.builder().installed("llama3:latest").pullable("qwen3:8b"));
        List<JsonNode> pulled = ndjson(post("/api/pull", "{\"name\":\"qwen3:8b\"}").body());
        assertThat(pulled.get(0).get("status").asText()).isEqualTo("pulling manifest");
        assertThat(pulled.get(pulled.size() - 1).get("status").asText()).isEqualTo("success");
        assertThat(fake.isInstalled("qwen3:8b")).isTrue();
        List<JsonNode> unknown = ndjson(post("/api/pull", "{\"model\":\"nope\"}").body());
        assertThat(unknown.get(unknown.size() - 1).get("error").asText()).isEqualTo("pull model manifest: file does not exist");
        assertThat(post("/api/pull", "{\"model\":\"nope\",\"stream\":false}").statusCode()).isEqualTo(500);

        HttpResponse<String> copy = post("/api/copy", "{\"source\":\"llama3\",\"destination\":\"backup\"}");
        assertThat(copy.statusCode()).isEqualTo(200);
        assertThat(copy.body()).isEmpty();
        HttpResponse<String> delete = send("DELETE", "/api/delete", "{\"name\":\"backup\"}");
        assertThat(delete.statusCode()).isEqualTo(200);
        assertThat(delete.body()).isEmpty();
        assertThat(send("DELETE", "/api/delete", "{\"name\":\"backup\"}").statusCode()).isEqualTo(404);
    }

    @Test
    void refuseConnectionsThenRecoverOnTheSamePort() throws Exception {
        start(FakeOllama.builder());
        int port = fake.port();
        fake.fault(Fault.refuseConnections());
        assertThatThrownBy(() -> send("GET", "/", null)).isInstanceOf(ConnectException.class);
        fake.fault(Fault.none());
        assertThat(fake.port()).isEqualTo(port);
        assertThat(send("GET", "/", null).statusCode()).isEqualTo(200);
    }

    @Test
    void resetAfterLinesAbortsTheStreamAfterThoseLines() throws Exception {
        start(FakeOllama.builder().tokens(List.of("a", "b", "c", "d")).tokenDelay(Duration.ofMillis(10)));
        fake.fault(Fault.resetAfterLines(2));
        BufferedReader reader = rawPost("/api/generate", "{\"model\":\"llama3\",\"prompt\":\"hi\"}");
        assertThat(readHead(reader)).contains("200");
        assertThat(readJsonLine(reader)).contains("\"a\"");
        assertThat(readJsonLine(reader)).contains("\"b\"");
        assertThatThrownBy(() -> {
            if (readJsonLine(reader) == null) {
                throw new IOException("EOF");
            }
        }).isInstanceOf(IOException.class);
        RecordedRequest recorded = fake.requests().get(0).awaitFinished(WAIT);
        assertThat(recorded.lineWriteNanos()).hasSize(2);
        assertThat(recorded.cancelled()).isFalse();

        // through a real client: the stream fails after the lines it got
        HttpResponse<InputStream> response = client.send(HttpRequest.newBuilder(fake.baseUri().resolve("/api/chat"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}")).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        BufferedReader lines = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8));
        // The JDK client may drop what it buffered once the reset arrives ("IO closed"): the lines it hands over
        // are a prefix of what was sent, and the stream always ends in an error, never in a clean end.
        List<String> got = new ArrayList<>();
        assertThatThrownBy(() -> {
            for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                got.add(line);
            }
        }).isInstanceOf(IOException.class);
        assertThat(got.size()).isLessThanOrEqualTo(2);
        for (int i = 0; i < got.size(); i++) {
            assertThat(got.get(i)).contains("\"" + "ab".charAt(i) + "\"");
        }
    }

    @Test
    void stallKeepsTheConnectionOpenAndNoticesTheClientLeaving() throws Exception {
        start(FakeOllama.builder().tokenDelay(Duration.ZERO));
        fake.fault(Fault.stallAfterLines(1));
        BufferedReader reader = rawPost("/api/generate", "{\"model\":\"llama3\",\"prompt\":\"hi\"}");
        assertThat(readHead(reader)).contains("200");
        assertThat(readJsonLine(reader)).contains("\"The\"");
        RecordedRequest recorded = fake.awaitRequests(1, WAIT).get(0);
        await().atMost(WAIT).until(() -> recorded.lineWriteNanos().size() == 1);
        assertThat(recorded.finished()).isFalse();
        assertThat(fake.inFlight()).isEqualTo(1);
        long closed = System.nanoTime();
        sockets.get(0).close();
        recorded.awaitCancelled(SECOND);
        assertThat(recorded.cancelledNanos() - closed).isLessThan(SECOND.toNanos());
        await().atMost(WAIT).until(() -> fake.inFlight() == 0);

        fake.fault(Fault.stallAfterLines(0));
        CompletableFuture<HttpResponse<String>> pending = client.sendAsync(HttpRequest.newBuilder(fake.baseUri().resolve("/"))
                .build(), HttpResponse.BodyHandlers.ofString());
        RecordedRequest second = fake.awaitRequests(2, WAIT).get(1);
        assertThat(second.lineWriteNanos()).isEmpty();
        assertThat(pending).isNotDone();
        pending.cancel(true);
    }

    @Test
    void statusAndErrorLineFaults() throws Exception {
        start(FakeOllama.builder().tokenDelay(Duration.ZERO));
        fake.fault(Fault.status(500, "boom"));
        HttpResponse<String> failed = post("/api/chat", "{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
        assertThat(failed.statusCode()).isEqualTo(500);
        assertThat(failed.body()).isEqualTo("{\"error\":\"boom\"}");
        HttpResponse<String> openAi = post("/v1/chat/completions", "{\"model\":\"llama3\",\"messages\":[]}");
        assertThat(json(openAi.body()).at("/error/message").asText()).isEqualTo("boom");
        assertThat(json(openAi.body()).at("/error/type").asText()).isEqualTo("api_error");

        fake.fault(Fault.errorLineAfter(2, "runner died"));
        HttpResponse<String> streamed = post("/api/generate", "{\"model\":\"llama3\",\"prompt\":\"hi\"}");
        assertThat(streamed.statusCode()).isEqualTo(200);
        List<JsonNode> lines = ndjson(streamed.body());
        assertThat(lines).hasSize(3);
        assertThat(lines.get(2).get("error").asText()).isEqualTo("runner died");
        assertThat(lines).noneMatch(line -> line.path("done").asBoolean());

        fake.fault(Fault.slowHeaders(Duration.ofMillis(300)));
        long start = System.nanoTime();
        assertThat(send("GET", "/api/version", null).statusCode()).isEqualTo(200);
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(Duration.ofMillis(300).toNanos());
        fake.reset();
        assertThat(fake.requests()).isEmpty();
        assertThat(fake.fault()).isEqualTo(Fault.none());
    }

    @Test
    void clientDisconnectMidStreamIsSeenWithinASecond() throws Exception {
        start(FakeOllama.builder().tokens(List.of("a", "b", "c", "d", "e")).tokenDelay(Duration.ofSeconds(2)));
        BufferedReader reader = rawPost("/api/generate", "{\"model\":\"llama3\",\"prompt\":\"hi\"}");
        readHead(reader);
        assertThat(readJsonLine(reader)).contains("\"a\"");
        long closed = System.nanoTime();
        sockets.get(0).close();
        RecordedRequest recorded = fake.awaitCancelled(0, SECOND);
        assertThat(recorded.cancelledNanos() - closed).isLessThan(SECOND.toNanos());
        assertThat(recorded.lineWriteNanos()).hasSize(1);
        assertThat(fake.inFlight()).isZero();
        assertThat(fake.isLoaded("llama3")).isTrue();
    }

    @Test
    void numParallelQueuesExtraRequestsAndDropsWaitersWhoseClientLeft() throws Exception {
        start(FakeOllama.builder().numParallel(1).tokens(List.of("a", "b")).tokenDelay(Duration.ofMillis(100)));
        String body = "{\"model\":\"llama3\",\"prompt\":\"hi\"}";
        CompletableFuture<HttpResponse<String>> first = client.sendAsync(HttpRequest.newBuilder(fake.baseUri().resolve("/api/generate"))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        fake.awaitRequests(1, WAIT);
        rawPost("/api/generate", body); // waits for the slot, then leaves
        fake.awaitRequests(2, WAIT);
        CompletableFuture<HttpResponse<String>> third = client.sendAsync(HttpRequest.newBuilder(fake.baseUri().resolve("/api/generate"))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        List<RecordedRequest> recorded = fake.awaitRequests(3, WAIT);
        sockets.get(0).close();
        fake.awaitCancelled(1, SECOND);
        assertThat(first.get().statusCode()).isEqualTo(200);
        assertThat(third.get().statusCode()).isEqualTo(200);
        assertThat(recorded.get(1).lineWriteNanos()).isEmpty();
        recorded.get(2).awaitFinished(WAIT);
        // the third starts only after the first finished
        assertThat(recorded.get(2).lineWriteNanos().get(0)).isGreaterThan(recorded.get(0).completedNanos());
        assertThat(fake.maxConcurrency()).isEqualTo(3);
    }

    @Test
    void maxConcurrencyCountsRequestsInProgressAtOnce() throws Exception {
        start(FakeOllama.builder().tokenDelay(Duration.ofMillis(50)));
        List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            responses.add(client.sendAsync(HttpRequest.newBuilder(fake.baseUri().resolve("/api/generate"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"llama3\",\"prompt\":\"hi\"}")).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        for (CompletableFuture<HttpResponse<String>> response : responses) {
            assertThat(response.get().statusCode()).isEqualTo(200);
        }
        assertThat(fake.maxConcurrency()).isEqualTo(4);
        await().atMost(WAIT).until(() -> fake.inFlight() == 0);
    }

    @Test
    void firstByteDelayHoldsTheHeaders() throws Exception {
        start(FakeOllama.builder().firstByteDelay(Duration.ofMillis(300)).tokenDelay(Duration.ZERO));
        long start = System.nanoTime();
        assertThat(post("/api/generate", "{\"model\":\"llama3\",\"prompt\":\"hi\"}").statusCode()).isEqualTo(200);
        RecordedRequest recorded = fake.requests().get(0).awaitFinished(WAIT);
        assertThat(recorded.lineWriteNanos().get(0) - recorded.receivedNanos()).isGreaterThanOrEqualTo(Duration.ofMillis(300).toNanos());
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(Duration.ofMillis(300).toNanos());
    }

    @Test
    void hostCheckRejectsForeignHostsWithAnEmpty403() throws Exception {
        start(FakeOllama.builder().checkHost(true));
        Socket socket = new Socket("127.0.0.1", fake.port());
        sockets.add(socket);
        socket.getOutputStream().write("GET /api/version HTTP/1.1\r\nHost: api.example.com\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        BufferedReader reader = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
        assertThat(reader.readLine()).contains("403");
        assertThat(send("GET", "/api/version", null).statusCode()).isEqualTo(200);
        assertThat(FakeOllama.hostAllowed("localhost:11434")).isTrue();
        assertThat(FakeOllama.hostAllowed("[::1]:11434")).isTrue();
        assertThat(FakeOllama.hostAllowed("foo.localhost")).isTrue();
        assertThat(FakeOllama.hostAllowed("10.1.2.3")).isTrue();
        assertThat(FakeOllama.hostAllowed("8.8.8.8")).isFalse();
        assertThat(FakeOllama.hostAllowed("ollama.example.com")).isFalse();
    }

    @Test
    void servesTlsAndRecordsTheSniHost(@TempDir Path dir) throws Exception {
        TestTls.Material tls = TestTls.generate(dir);
        assertThat(Files.readString(tls.certificatePem())).startsWith("-----BEGIN CERTIFICATE-----");
        start(FakeOllama.builder().tls(tls.keyStore(), tls.password()));
        assertThat(fake.baseUri().getScheme()).isEqualTo("https");

        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (InputStream pem = Files.newInputStream(tls.certificatePem())) {
            trust.setCertificateEntry("fake", CertificateFactory.getInstance("X.509").generateCertificate(pem));
        }
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, factory.getTrustManagers(), null);
        HttpClient tlsClient = HttpClient.newBuilder().sslContext(context).version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> response = tlsClient.send(HttpRequest.newBuilder(URI.create("https://localhost:" + fake.port() + "/api/generate"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"llama3\",\"prompt\":\"hi\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(ndjson(response.body())).last().satisfies(done -> assertThat(done.get("done").asBoolean()).isTrue());
        assertThat(fake.requests().get(0).sniHost()).isEqualTo("localhost");

        // a TLS client leaving mid-stream is noticed too
        fake.setTokenDelay(Duration.ofSeconds(2));
        SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("localhost", fake.port());
        socket.setSoTimeout((int) WAIT.toMillis());
        sockets.add(socket);
        socket.getOutputStream().write(("POST /api/generate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 31\r\n\r\n"
                + "{\"model\":\"llama3\",\"prompt\":\"a\"}").getBytes(StandardCharsets.US_ASCII));
        BufferedReader reader = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
        readHead(reader);
        assertThat(readJsonLine(reader)).contains("\"The\"");
        socket.close();
        fake.awaitCancelled(1, SECOND);
    }
}
