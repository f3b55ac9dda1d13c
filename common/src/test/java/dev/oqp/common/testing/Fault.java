package dev.oqp.common.testing;

import java.time.Duration;
import java.util.Objects;

/**
 * A scripted misbehaviour of {@link FakeOllama}, installed with {@link FakeOllama#fault(Fault)}.
 *
 * <p>A fault is captured by each request when it arrives and applies to every route, so a test
 * usually installs it just before the request it targets and clears it with {@link #none()}.
 * Line-counting faults count the lines of the response body: each NDJSON line or SSE event of a
 * streamed response, and the whole body (one "line") of a non-streamed response. When a response
 * has no more than {@code n} lines it completes normally.
 */
public sealed interface Fault {

    /** No fault: the fake behaves like Ollama. */
    static Fault none() {
        return None.INSTANCE;
    }

    /**
     * Stop listening: new connections are refused ({@link java.net.ConnectException}) until another
     * fault is installed, after which the fake listens again on the same port. Connections that are
     * open when this fault is installed are closed.
     */
    static Fault refuseConnections() {
        return RefuseConnections.INSTANCE;
    }

    /**
     * Abort the TCP connection abruptly (SO_LINGER 0, so an RST) after {@code lines} body lines were
     * written and flushed; {@code 0} aborts before the response headers.
     */
    static Fault resetAfterLines(int lines) {
        return new ResetAfterLines(lines);
    }

    /**
     * Stop writing after {@code lines} body lines ({@code 0}: before the headers) and keep the
     * connection open until the client leaves or the fake stops. A stalled request stays stalled
     * after the fault is cleared.
     */
    static Fault stallAfterLines(int lines) {
        return new StallAfterLines(lines);
    }

    /**
     * Answer with this status and Ollama's error body {@code {"error":"<message>"}} (the OpenAI
     * error shape on {@code /v1} routes), without taking a parallelism slot.
     */
    static Fault status(int status, String message) {
        return new Status(status, message);
    }

    /** Ollama's queue-full answer: {@code 503 {"error":"server busy, please try again.  maximum pending requests exceeded"}}. */
    static Fault queueFull() {
        return new Status(503, "server busy, please try again.  maximum pending requests exceeded");
    }

    /** Wait this long before sending the response headers (added to the configured first-byte delay). */
    static Fault slowHeaders(Duration delay) {
        return new SlowHeaders(delay);
    }

    /**
     * After {@code lines} body lines, end a streamed response with the line {@code {"error":"<message>"}}
     * (HTTP status stays 200, there is no {@code done} line); on SSE routes the stream just ends
     * without {@code data: [DONE]}, as Ollama's OpenAI middleware swallows the error. The done line
     * itself is never written, so {@code lines} is capped at the number of content lines. A
     * non-streamed response gets {@code 500 {"error":"<message>"}} instead.
     */
    static Fault errorLineAfter(int lines, String message) {
        return new ErrorLineAfter(lines, message);
    }

    /** See {@link #none()}. */
    enum None implements Fault { INSTANCE }

    /** See {@link #refuseConnections()}. */
    enum RefuseConnections implements Fault { INSTANCE }

    /** See {@link #resetAfterLines(int)}. */
    record ResetAfterLines(int lines) implements Fault {
        public ResetAfterLines {
            requireNonNegative(lines);
        }
    }

    /** See {@link #stallAfterLines(int)}. */
    record StallAfterLines(int lines) implements Fault {
        public StallAfterLines {
            requireNonNegative(lines);
        }
    }

    /** See {@link #status(int, String)}. */
    record Status(int status, String message) implements Fault {
        public Status {
            if (status < 100 || status > 599) {
                throw new IllegalArgumentException("status: " + status + " (expected: 100..599)");
            }
            Objects.requireNonNull(message, "message");
        }
    }

    /** See {@link #slowHeaders(Duration)}. */
    record SlowHeaders(Duration delay) implements Fault {
        public SlowHeaders {
            if (delay.isNegative()) {
                throw new IllegalArgumentException("delay: " + delay + " (expected: >= 0)");
            }
        }
    }

    /** See {@link #errorLineAfter(int, String)}. */
    record ErrorLineAfter(int lines, String message) implements Fault {
        public ErrorLineAfter {
            requireNonNegative(lines);
            Objects.requireNonNull(message, "message");
        }
    }

    private static void requireNonNegative(int lines) {
        if (lines < 0) {
            throw new IllegalArgumentException("lines: " + lines + " (expected: >= 0)");
        }
    }
}
