package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.get;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import dev.oqp.common.testing.FakeOllama;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A request body the proxy reads itself (inference, {@code /api/show}) that fails while it is read, from raw sockets
 * on loopback: what the client is sent and what is recorded ({@code oqp_client_requests_total}, the access line)
 * agree. A body cut short or malformed while the client still listens is 400 in the client's API shape; a client
 * that reset its connection is 499 and reads nothing.
 */
class BodyFailuresTest {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    private QueueProxy start() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        return fixture.start(ollama, 1, QueueProxyTest.KEYS + "admin:\n  metrics_public: true\n");
    }

    private static List<String> head(String method, String path, String key, String framing) {
        return List.of(method + " " + path + " HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
                "Authorization: Bearer " + key, framing);
    }

    /** Sends {@code head} and {@code body} raw, closes the sending side, and returns everything the proxy wrote. */
    private static String sendThenHalfClose(QueueProxy proxy, List<String> head, String body) throws Exception {
        try (Socket socket = new Socket("127.0.0.1", proxy.port())) {
            socket.setSoTimeout((int) WAIT.toMillis());
            OutputStream out = socket.getOutputStream();
            out.write((String.join("\r\n", head) + "\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
            out.flush();
            socket.shutdownOutput();
            return readAll(socket.getInputStream());
        }
    }

    private static String readAll(InputStream in) throws Exception {
        ByteArrayOutputStream read = new ByteArrayOutputStream();
        byte[] buffer = new byte[4096];
        try {
            for (int n; (n = in.read(buffer)) >= 0; ) {
                read.write(buffer, 0, n);
            }
        } catch (SocketException reset) {
            // What was read before the reset is the answer.
        }
        return read.toString(StandardCharsets.UTF_8);
    }

    private double recorded(QueueProxy proxy, String client, int status) throws Exception {
        String prefix = "oqp_client_requests_total{client=\"" + client + "\",status=\"" + status + "\"} ";
        return fixture.send(get(base(proxy).resolve("/metrics"))).body().lines()
                .filter(line -> line.startsWith(prefix))
                .mapToDouble(line -> Double.parseDouble(line.substring(prefix.length())))
                .findFirst().orElse(0);
    }

    @Test
    void anInferenceBodyCutShortIsAnswered400InOllamasShapeAndRecorded400() throws Exception {
        QueueProxy proxy = start();

        String answer = sendThenHalfClose(proxy, head("POST", "/api/generate", QueueProxyTest.KEY_CHAT,
                "Content-Length: 200"), "{\"model\":\"llama3\",");

        assertThat(answer).startsWith("HTTP/1.1 400");
        assertThat(answer).containsIgnoringCase("Connection: close").contains("{\"error\":");
        await().atMost(WAIT).untilAsserted(() -> assertThat(recorded(proxy, "chat", 400)).isEqualTo(1));
        assertThat(recorded(proxy, "chat", 499)).isZero();
    }

    @Test
    void anInferenceBodyWithBadChunkFramingIsAnswered400AndRecorded400() throws Exception {
        QueueProxy proxy = start();

        String answer = sendThenHalfClose(proxy, head("POST", "/v1/chat/completions", QueueProxyTest.KEY_CHAT,
                "Transfer-Encoding: chunked"), "5\r\n{\"mod\r\nzz\r\nel\":1}\r\n0\r\n\r\n");

        assertThat(answer).startsWith("HTTP/1.1 400");
        assertThat(answer).contains("{\"error\":{");
        await().atMost(WAIT).untilAsserted(() -> assertThat(recorded(proxy, "chat", 400)).isEqualTo(1));
        assertThat(recorded(proxy, "chat", 499)).isZero();
    }

    @Test
    void aShowBodyCutShortIsAnswered400AndRecorded400() throws Exception {
        QueueProxy proxy = start();

        String answer = sendThenHalfClose(proxy, head("POST", "/api/show", QueueProxyTest.KEY_READ,
                "Content-Length: 100"), "{\"model\":");

        assertThat(answer).startsWith("HTTP/1.1 400");
        assertThat(answer).contains("{\"error\":");
        await().atMost(WAIT).untilAsserted(() -> assertThat(recorded(proxy, "reader", 400)).isEqualTo(1));
        assertThat(recorded(proxy, "reader", 499)).isZero();
    }

    @Test
    void aClientThatResetsMidBodyIsRecorded499() throws Exception {
        QueueProxy proxy = start();

        try (Socket socket = new Socket("127.0.0.1", proxy.port())) {
            OutputStream out = socket.getOutputStream();
            out.write((String.join("\r\n", head("POST", "/api/generate", QueueProxyTest.KEY_CHAT,
                    "Content-Length: 200")) + "\r\n\r\n{\"model\":").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            // Read by the proxy before the reset, so the reset arrives mid-body.
            Thread.sleep(200);
            socket.setSoLinger(true, 0);
        }

        await().atMost(WAIT).untilAsserted(() -> assertThat(recorded(proxy, "chat", 499)).isEqualTo(1));
        assertThat(recorded(proxy, "chat", 400)).isZero();
    }
}
