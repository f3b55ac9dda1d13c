package dev.oqp.queue.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import dev.oqp.common.proxy.BodyDrain;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.LogCapture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Answers given before a request's body is read, and requests refused before the pipeline can use them. */
class EarlyAnswersTest {
    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    private QueueProxy start() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        return fixture.start(ollama, 1, QueueProxyTest.KEYS + "logging: {level: info, access_log: true}\n");
    }

    /** Sends {@code head} (CRLF line ends added) and {@code bodyPart} raw; returns the status line and how long it took. */
    private static String[] exchange(QueueProxy proxy, List<String> head, String bodyPart) throws Exception {
        try (Socket socket = new Socket("127.0.0.1", proxy.port())) {
            socket.setSoTimeout((int) (BodyDrain.DEADLINE_MILLIS * 4));
            OutputStream out = socket.getOutputStream();
            long start = System.nanoTime();
            out.write((String.join("\r\n", head) + "\r\n\r\n" + bodyPart).getBytes(StandardCharsets.US_ASCII));
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            String status = in.readLine();
            return new String[] {status, Long.toString((System.nanoTime() - start) / 1_000_000)};
        }
    }

    @Test
    void aClientExpectingContinueIsRefusedWithoutBeingAskedForItsBody() throws Exception {
        QueueProxy proxy = start();

        String[] answer = exchange(proxy, List.of("POST /api/generate HTTP/1.1", "Host: 127.0.0.1",
                "Content-Type: application/json", "Content-Length: 500000", "Expect: 100-continue"), "");

        assertThat(answer[0]).as("no 100 Continue for a body nobody will read").startsWith("HTTP/1.1 401");
    }

    @Test
    void aClientThatNeverSendsTheBodyItDeclaredIsAnsweredWithinTheDrainDeadline() throws Exception {
        QueueProxy proxy = start();

        String[] answer = exchange(proxy, List.of("POST /api/generate HTTP/1.1", "Host: 127.0.0.1",
                "Content-Type: application/json", "Content-Length: 10000"), "{\"model\":");

        assertThat(answer[0]).startsWith("HTTP/1.1 401");
        assertThat(Long.parseLong(answer[1])).as("answered at the deadline, not at the idle timeout")
                .isLessThan(BodyDrain.DEADLINE_MILLIS * 3);
    }

    @Test
    void aMalformedQueryOnAQueueControlIs400AndRecorded() throws Exception {
        QueueProxy proxy = start();
        try (LogCapture capture = LogCapture.start()) {
            String[] answer = exchange(proxy, List.of("POST /queue/resume?tier=%zz HTTP/1.1", "Host: 127.0.0.1",
                    "Authorization: Bearer " + QueueProxyTest.KEY_ADMIN, "Content-Length: 0", "Connection: close"), "");

            assertThat(answer[0]).startsWith("HTTP/1.1 400");
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(capture.lines())
                    .as("recorded like every answer").anyMatch(line -> line.contains("bad_query")));
        }
    }

    @Test
    void aStatusReadWithAQueryItDoesNotUseIsAnswered() throws Exception {
        QueueProxy proxy = start();

        String[] answer = exchange(proxy, List.of("GET /queue/summary?x=%zz HTTP/1.1", "Host: 127.0.0.1",
                "Authorization: Bearer " + QueueProxyTest.KEY_READ, "Connection: close"), "");

        assertThat(answer[0]).startsWith("HTTP/1.1 200");
    }

    @Test
    void anUnauthenticatedClientStreamingABodyIsCutOffAfterABoundedRead() throws Exception {
        QueueProxy proxy = start();
        try (Socket socket = new Socket("127.0.0.1", proxy.port())) {
            OutputStream out = socket.getOutputStream();
            out.write(("POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 1000000000000\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            byte[] junk = new byte[64 * 1024];
            long start = System.nanoTime();
            long stopped = -1;
            try {
                while (System.nanoTime() - start < BodyDrain.DEADLINE_MILLIS * 2_000_000L) {
                    out.write(junk);
                }
            } catch (IOException e) {
                stopped = (System.nanoTime() - start) / 1_000_000;
            }
            assertThat(stopped).as("the proxy stopped reading and closed (ms), long before its deadline")
                    .isBetween(0L, BodyDrain.DEADLINE_MILLIS / 2);
        }
    }
}
