package dev.oqp.queue.server;

import static dev.oqp.queue.server.MemoryBudget.MIB;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.oqp.common.testing.FakeOllama;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The heap caps the request bodies held at once, whatever {@code queue.max_queued_bytes} says: uploads started
 * together past the budget derived from the max heap are answered 503 instead of held.
 */
class MemoryCeilingTest {
    /** (160 MiB - 128 MiB) / 3 = 10.7 MiB: a body budget of 10 MiB, with the cache off. */
    private static final long HEAP = 160 * MIB;
    private static final int BODY = 4 << 20;
    /**
     * Four uploads send this much and wait: 11 MiB would pass the 10 MiB budget, so one is refused; the other three
     * hold 8.25 MiB and finish one at a time within it (9.5 MiB at most).
     */
    private static final int FIRST_PART = 11 << 18;
    private static final int UPLOADS = 4;
    private static final String YAML = "embedding_cache:\n  enabled: false\n";

    private final QueueFixture fixture = new QueueFixture();
    private final List<Upload> uploads = new ArrayList<>();

    @AfterEach
    void tearDown() {
        uploads.forEach(Upload::close);
        fixture.close();
    }

    /** A raw upload of one {@link #BODY}-byte generate body, sent in two parts; the answer's head is read as it comes. */
    private static final class Upload implements AutoCloseable {
        private final Socket socket;
        private final byte[] body;
        final CompletableFuture<String> answer = new CompletableFuture<>();

        Upload(QueueProxy proxy) throws IOException {
            socket = new Socket("127.0.0.1", proxy.port());
            socket.setSoTimeout(20_000);
            String prefix = "{\"model\":\"llama3:latest\",\"stream\":false,\"prompt\":\"";
            body = new byte[BODY];
            Arrays.fill(body, (byte) 'a');
            System.arraycopy(prefix.getBytes(StandardCharsets.US_ASCII), 0, body, 0, prefix.length());
            body[BODY - 2] = '"';
            body[BODY - 1] = '}';
            Thread reader = new Thread(this::readHead, "upload-answer");
            reader.setDaemon(true);
            reader.start();
        }

        private void readHead() {
            try {
                BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(),
                        StandardCharsets.ISO_8859_1));
                StringBuilder head = new StringBuilder();
                for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
                    head.append(line).append('\n');
                }
                int length = head.toString().lines().filter(l -> l.toLowerCase(Locale.ROOT).startsWith("content-length:"))
                        .mapToInt(l -> Integer.parseInt(l.substring(l.indexOf(':') + 1).strip())).findFirst().orElse(0);
                char[] rest = new char[length];
                for (int n = 0, r; n < length && (r = in.read(rest, n, length - n)) > 0; n += r) {
                    // reads the whole answer body
                }
                answer.complete(head + new String(rest));
            } catch (IOException e) {
                answer.completeExceptionally(e);
            }
        }

        /** Bytes {@code from} to {@code to} of the body (the request head before byte 0), on a thread of its own. */
        CompletableFuture<Void> send(int from, int to) {
            return CompletableFuture.runAsync(() -> {
                try {
                    OutputStream out = socket.getOutputStream();
                    if (from == 0) {
                        out.write(("POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                + "Content-Length: " + BODY + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                    }
                    out.write(body, from, to - from);
                    out.flush();
                } catch (IOException e) {
                    // A refused upload may find its connection closed: its answer says why.
                }
            });
        }

        @Override
        public void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // best effort
            }
        }
    }

    /**
     * Starts {@link #UPLOADS} uploads together, each sending {@link #FIRST_PART} and waiting; when one is to be
     * refused, waits for that answer (no body has completed, so none released its bytes before); then finishes the
     * others one at a time. Returns every answer's head (and body).
     */
    private List<String> uploadTogether(MemoryBudget memory, boolean oneRefused) throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = fixture.start(ollama, UPLOADS, YAML, memory);
        for (int i = 0; i < UPLOADS; i++) {
            uploads.add(new Upload(proxy));
        }
        List<CompletableFuture<Void>> firstParts = uploads.stream().map(u -> u.send(0, FIRST_PART)).toList();
        if (oneRefused) {
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> uploads.stream().anyMatch(u -> u.answer.isDone()));
        }
        List<String> answers = new ArrayList<>();
        for (int i = 0; i < UPLOADS; i++) {
            Upload upload = uploads.get(i);
            if (!upload.answer.isDone()) {
                firstParts.get(i).get(20, TimeUnit.SECONDS);
                upload.send(FIRST_PART, BODY).get(20, TimeUnit.SECONDS);
            }
            answers.add(upload.answer.get(20, TimeUnit.SECONDS));
        }
        return answers;
    }

    @Test
    void uploadsPastTheBudgetTheHeapAllowsAreRefusedWith503InsteadOfHeld() throws Exception {
        MemoryBudget memory = new MemoryBudget(HEAP);

        List<String> answers = uploadTogether(memory, true);

        // At least the one upload past the budget is refused; on a loaded machine an upload may still be arriving
        // when the next starts (a body on its way upstream is outside the budget), so two may be: never held.
        assertThat(answers).filteredOn(a -> a.startsWith("HTTP/1.1 503")).isNotEmpty().hasSizeLessThan(UPLOADS)
                .allSatisfy(a -> assertThat(a).containsIgnoringCase("Retry-After:")
                        .contains("too many request bodies being received at once"));
        assertThat(answers).allSatisfy(a -> assertThat(a).matches("(?s)HTTP/1.1 (200|503) .*"));
    }

    @Test
    void withoutAMaxHeapTheSameUploadsAreAllHeld() throws Exception {
        List<String> answers = uploadTogether(new MemoryBudget(Long.MAX_VALUE), false);

        assertThat(answers).allSatisfy(a -> assertThat(a).startsWith("HTTP/1.1 200"));
    }
}
