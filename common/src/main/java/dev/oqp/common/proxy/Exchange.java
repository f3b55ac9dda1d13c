package dev.oqp.common.proxy;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * What happened to one request that went through {@link ProxyBase}: handed to
 * {@link ProxyBase#onExchangeComplete} exactly once, after the response to the client has
 * ended (completely, with an error, or because the client went away).
 *
 * <p>Written by the threads of one exchange in sequence (request, then upstream events, then completion);
 * fields are volatile so that the completion hook sees the last values whatever thread runs it.
 */
public final class Exchange {
    /** Status logged when the client went away before its response was complete (nginx's convention). */
    public static final int CLIENT_CLOSED_REQUEST = 499;

    /** Why an exchange did not complete normally; {@link #NONE} when it did. */
    public enum Outcome {
        NONE, BODY_TOO_LARGE, UPSTREAM_CONNECT, UPSTREAM_TIMEOUT, UPSTREAM_BROKEN, CLIENT_CLOSED,
        /** The client did not send its request body in time. */
        CLIENT_TIMEOUT,
        /** The client's request body ended before its declared length or broke its chunked framing. */
        CLIENT_BODY_INVALID,
        /** Refused before anything was sent upstream (a method or request target the proxy never forwards). */
        REJECTED,
        /** The server stopped and its drain timeout cut the exchange. */
        SHUTDOWN
    }

    private final String method;
    private final String path;
    private final long startNanos;
    private volatile Upstream upstream;
    private volatile long upstreamStartNanos;
    private volatile long upstreamFirstByteNanos;
    private volatile long upstreamEndNanos;
    private volatile int status;
    private volatile long bytesToClient;
    private volatile Throwable failure;
    private volatile Outcome outcome = Outcome.NONE;
    private volatile boolean clientGone;
    private volatile boolean ndjson;
    private volatile boolean eventStream;
    /** Line feeds ending the body so far, at most 2 (carriage returns aside); 2 before any byte: a boundary. */
    private volatile int trailingLineFeeds = 2;
    private volatile long endNanos;
    private volatile ClientCloseWatcher clientCloseWatcher;
    private volatile Runnable abortOnAnswer;
    private volatile RequestBody requestBody;
    private volatile boolean pipelined;
    private volatile boolean committedEarly;
    private volatile int inBandStatus;

    Exchange(String method, String path, long startNanos) {
        this.method = method;
        this.path = path;
        this.startNanos = startNanos;
    }

    /** The client's request method. */
    public String method() {
        return method;
    }

    /** The client's request path, without the query string (queries may carry secrets). */
    public String path() {
        return path;
    }

    /** The upstream chosen for this exchange, or null if it was answered before one was chosen. */
    public Upstream upstream() {
        return upstream;
    }

    /**
     * The status the client saw; {@value #CLIENT_CLOSED_REQUEST} when it went away first; for a response committed
     * early whose error was reported inside the body, the status that error would have had.
     */
    public int status() {
        return status;
    }

    /** Response body bytes written to the client. */
    public long bytesToClient() {
        return bytesToClient;
    }

    /** Why the exchange did not complete normally, or {@link Outcome#NONE}. */
    public Outcome outcome() {
        return outcome;
    }

    /** The failure that ended the exchange abnormally, or null. */
    public Throwable failure() {
        return failure;
    }

    /** True when the client closed its connection before the response was complete. */
    public boolean clientGone() {
        return clientGone;
    }

    /** Milliseconds from the request's arrival to the end of the response. */
    public double totalMillis() {
        return millis(endNanos - startNanos);
    }

    /** Seconds from sending upstream to the end of the upstream response; negative if never sent. */
    public double upstreamSeconds() {
        if (upstreamStartNanos == 0) {
            return -1;
        }
        long end = upstreamEndNanos == 0 ? endNanos : upstreamEndNanos;
        return (end - upstreamStartNanos) / 1e9;
    }

    /** Milliseconds from sending upstream to the end of the upstream response; negative if never sent. */
    public double upstreamMillis() {
        double s = upstreamSeconds();
        return s < 0 ? -1 : s * 1000.0;
    }

    /** Seconds from sending upstream to the upstream's response headers; negative if none came. */
    public double timeToFirstByteSeconds() {
        return upstreamFirstByteNanos == 0 || upstreamStartNanos == 0
                ? -1 : (upstreamFirstByteNanos - upstreamStartNanos) / 1e9;
    }

    private static double millis(long nanos) {
        return TimeUnit.NANOSECONDS.toMicros(nanos) / 1000.0;
    }

    void upstream(Upstream upstream) {
        this.upstream = upstream;
    }

    /** What {@link ProxyBase#requestBody} decided: asked once, used by every attempt. */
    void requestBody(RequestBody requestBody) {
        this.requestBody = requestBody;
    }

    RequestBody requestBody() {
        return requestBody;
    }

    /** A failover: the next attempt goes to {@code next}; the times measured are the new attempt's. */
    void retry(Upstream next) {
        this.upstream = next;
        this.upstreamStartNanos = 0;
        this.upstreamEndNanos = 0;
    }

    /** An earlier attempt's watcher read a byte of the client's next request: close after this response. */
    void pipelined(boolean pipelined) {
        this.pipelined = pipelined;
    }

    boolean pipelined() {
        return pipelined;
    }

    /**
     * The client's response was committed (its status and headers sent) before this exchange began: the subclass
     * answered early (the queue proxy's early headers for a queued stream). The upstream's status and headers can
     * no longer be sent, so an upstream error status or a failure is reported inside the body (see
     * {@link ErrorResponses#inBandError}), and a failover stays possible until an upstream byte was relayed.
     */
    void committedEarly(boolean committedEarly) {
        this.committedEarly = committedEarly;
    }

    boolean committedEarly() {
        return committedEarly;
    }

    /** An error was reported inside a response committed early: the status it would have had is recorded. */
    void inBandStatus(int status) {
        this.inBandStatus = status;
    }

    int inBandStatus() {
        return inBandStatus;
    }

    /** True once the upstream's response has begun (its status line arrived). */
    boolean answered() {
        return upstreamFirstByteNanos != 0;
    }

    /** Set when the client left and the upstream request is held until its first byte. */
    void abortOnAnswer(Runnable abort) {
        this.abortOnAnswer = abort;
    }

    Runnable abortOnAnswer() {
        return abortOnAnswer;
    }

    long upstreamStartNanos() {
        return upstreamStartNanos;
    }

    void upstreamStarted() {
        upstreamStartNanos = System.nanoTime();
    }

    void upstreamFirstByte() {
        upstreamFirstByteNanos = System.nanoTime();
    }

    void upstreamEnded() {
        if (upstreamEndNanos == 0) {
            upstreamEndNanos = System.nanoTime();
        }
    }

    void ndjson(boolean ndjson) {
        this.ndjson = ndjson;
    }

    boolean ndjson() {
        return ndjson;
    }

    void eventStream(boolean eventStream) {
        this.eventStream = eventStream;
    }

    boolean eventStream() {
        return eventStream;
    }

    /** Follows how the body sent so far ends: {@code content} is the next non-empty chunk of it (not consumed). */
    void contentEnds(ByteBuffer content) {
        int lineFeeds = 0;
        for (int i = content.limit() - 1; i >= content.position(); i--) {
            byte b = content.get(i);
            if (b == '\n') {
                if (++lineFeeds == 2) {
                    break;
                }
            } else if (b != '\r') {
                trailingLineFeeds = lineFeeds;
                return;
            }
        }
        // Line ends only: they continue the previous chunk's.
        trailingLineFeeds = Math.min(2, lineFeeds == 2 ? 2 : trailingLineFeeds + lineFeeds);
    }

    /** True when the body sent so far ends a line (or nothing was sent). */
    boolean endsWithNewline() {
        return trailingLineFeeds >= 1;
    }

    /** True when the body sent so far ends with a blank line, as a complete SSE event does (or nothing was sent). */
    boolean endsWithBlankLine() {
        return trailingLineFeeds >= 2;
    }

    void clientGone(boolean gone) {
        this.clientGone = gone;
    }

    void clientCloseWatcher(ClientCloseWatcher watcher) {
        this.clientCloseWatcher = watcher;
    }

    ClientCloseWatcher clientCloseWatcher() {
        return clientCloseWatcher;
    }

    void failed(Throwable failure, Outcome outcome) {
        if (this.failure == null) {
            this.failure = failure;
            this.outcome = outcome;
        }
    }

    void ended(int status, long bytesToClient) {
        this.endNanos = System.nanoTime();
        this.status = status;
        this.bytesToClient = bytesToClient;
    }
}
