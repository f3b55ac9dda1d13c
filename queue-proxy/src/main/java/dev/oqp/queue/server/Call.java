package dev.oqp.queue.server;

import java.nio.ByteBuffer;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import dev.oqp.common.config.Tier;
import dev.oqp.common.proxy.BodyDrain;
import dev.oqp.common.proxy.ErrorResponses;
import dev.oqp.common.proxy.Exchange;
import dev.oqp.queue.admin.QueueRequests;
import dev.oqp.queue.auth.Client;
import dev.oqp.queue.cache.CachePlan;
import dev.oqp.queue.cache.CacheService;
import dev.oqp.queue.metrics.UsageScanner;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.Grant;
import dev.oqp.queue.scheduler.Ticket;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.EofException;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * One request, owned from the gate to its single end: the exchange (the effective request, after an injection
 * port's headers were applied; the response; the client's callback, wrapped once so that it completes at most
 * once), the settings snapshot in force when it arrived, and what the pipeline learnt about it.
 *
 * <p>A request ends in exactly one of three ways, each of which records it once through {@link #complete}:
 * {@link #answer} (an error in the client's API shape), {@link #write} (a body of the proxy's own), {@link #leave}
 * (the client went away), or, for a request handed to the forwarder, the forwarder's completion hook calling
 * {@link #complete} itself.
 *
 * <p>Fields are written by one thread at a time: the gate's before the hand-off to the forwarder (a
 * happens-before edge: the hand-off goes through the scheduler's lock or an executor), the forwarder's after.
 */
final class Call {
    private static final String ATTRIBUTE = Call.class.getName();

    final String requestId;
    final Port port;
    final Settings settings;
    final long startNanos;
    final Request request;
    final Response response;
    final Callback callback;
    private final Ledger ledger;
    private final AtomicBoolean completed = new AtomicBoolean();

    String clientAddress;
    /** The authenticated client; null until step 3 succeeds. */
    Client client;
    Route route;
    /** The effective tier of a queued request; null for one that is not queued. */
    Tier tier;
    /** The body to send upstream when the gate read it (inference, {@code /api/show}), else null: the body streams. */
    byte[] body;
    /** Canonical model name of an inference request, or null. */
    String model;
    /** The model name as the client wrote it (inference). */
    String spelledModel;
    /** The inference response streams (its first byte follows the model load, not the whole answer). */
    boolean stream;
    /** A load of the model started for a client that left during a cold load (see the forwarder); else null. */
    volatile CompletableFuture<?> preload;
    long maxBody;
    /** The host of a request that is not queued (metadata, management); a queued one's is its lease's. */
    private Host directHost;
    /** The host was named by {@code X-Ollama-Host}: no other host is tried. */
    boolean named;
    /** The model is not known to be in memory on the host chosen: the first byte may wait for a load. */
    boolean cold;
    /** Upstream requests sent: 1, plus one per failover. */
    int attempts = 1;
    /** Hosts tried and failed (failover), the last one included; null until the first failure. */
    Set<String> tried;
    /** A host already closed the connection before answering once: such a failure is not retried again. */
    boolean resetRetried;
    /**
     * The failover ended without an answer: no host able to serve the request was left, or a host closed the
     * connection before answering after a reset had already had its one more host. The 502 is final.
     */
    boolean failoverExhausted;
    Ticket<SlotPool.HostLease> ticket;
    /**
     * The slots a dispatched request holds, as the queue granted them (its host slot says which host, and a
     * failover moves it); released from the forwarder's completion, exactly once.
     */
    Grant<SlotPool.HostLease> grant;
    long waitedNanos = -1;
    /** The 1-based place a request that waited took in the queue at admission; 0 when it did not wait. */
    int queuePosition;
    /** The client's {@code X-Queue-Max-Wait} in nanoseconds, or -1 (none). */
    long maxWaitNanos = -1;
    /** The request's entry in {@code GET /queue/requests/{id}} while it is queued or runs, or null; ended with it. */
    volatile QueueRequests.Entry tracked;
    /** The client left while its request was queued, looked up or handed to the forwarder. */
    volatile boolean gone;
    /** A byte of the client's next request was read while watching: close the connection after this response. */
    boolean pipelined;
    UsageScanner usage;
    /** Tokens the rate limiter had this request pre-pay; taken (set to 0) by whoever settles them. */
    final AtomicLong reservedTokens = new AtomicLong();
    /** A cacheable embedding request's plan (step 6), or null. */
    CachePlan cache;
    /** The cache the plan was looked up in: its answer is stored there. */
    CacheService cacheService;
    /** The request body was read (or will never be): an early answer need not drain it first. */
    boolean bodyRead;
    /**
     * The request's 200 and headers were sent while it waited in the queue ({@link EarlyHeaders}): from then on an
     * error is reported inside the stream, never as a status.
     */
    volatile boolean earlyHeaders;

    Call(String requestId, Port port, Settings settings, Request request, Response response, Callback callback,
         Ledger ledger) {
        this.requestId = requestId;
        this.port = port;
        this.settings = settings;
        this.startNanos = System.nanoTime();
        this.request = request;
        this.response = response;
        this.callback = new Once(callback);
        this.ledger = ledger;
        request.setAttribute(ATTRIBUTE, this);
    }

    /** The call of a request the gate admitted (the forwarder's hooks receive the request). */
    static Call of(Request request) {
        return (Call) request.getAttribute(ATTRIBUTE);
    }

    /** The client id for logs and metric labels. */
    String clientLabel() {
        return client == null ? "unauthenticated" : client.clientId();
    }

    /** The host the request is (being) sent to, or null; a failover changes it. */
    Host host() {
        return grant != null ? grant.lease().host() : directHost;
    }

    /** A request that is not queued goes to {@code host}. */
    void sendTo(Host host) {
        this.directHost = host;
    }

    /** The path as the client wrote it (canonical: the gate refuses anything else). */
    String path() {
        return Request.getPathInContext(request);
    }

    /**
     * Ends the request with an error in the client's API shape, then records it. A request body not read yet is
     * read and dropped after the answer for a few seconds ({@link BodyDrain}): answering and closing with the
     * client's bytes still arriving makes the kernel reset the connection, and the client may lose the answer.
     */
    void answer(int status, String message, String error) {
        if (earlyHeaders) {
            answerInBand(status, message, error);
            return;
        }
        // A body not read is read and dropped after the answer, briefly, so that the client reads the answer.
        Callback written = bodyRead ? callback : BodyDrain.lingering(request,
                client == null ? BodyDrain.UNAUTHENTICATED_BYTES : BodyDrain.MAX_BYTES, callback);
        bodyRead = true;
        errorHeaders();
        ErrorResponses.write(request, response, written, status, message);
        complete(status, -1, error, -1);
    }

    /**
     * Ends a stream whose headers were sent early with the error as its last frame, in the route's shape (an
     * {@code {"error":"…"}} line on NDJSON, the API's own error event on SSE), then records {@code status}: the
     * status the error would have had.
     */
    private void answerInBand(int status, String message, String error) {
        byte[] frame = ErrorResponses.inBandError(path(), !path().startsWith("/api/"), status, message, error);
        response.write(true, ByteBuffer.wrap(frame), callback);
        complete(status, frame.length, error, -1);
    }

    /**
     * Like {@link #answer}, for a request whose body failed to arrive, recorded as the write ends: a client that
     * closed only its sending side still reads the answer ({@code status}); one that reset the connection cannot,
     * and the write failing is how that shows (499, as {@link #leave}). Both look alike while the body is read:
     * Jetty reads a reset as the end of the input. The connection closes after the answer.
     */
    void answerUnlessGone(int status, String message, String error) {
        bodyRead = true;
        errorHeaders();
        response.getHeaders().put(HttpHeader.CONNECTION, "close");
        ErrorResponses.write(request, response, Callback.from(callback.getInvocationType(), () -> {
            complete(status, -1, error, -1);
            callback.succeeded();
        }, failure -> {
            complete(Exchange.CLIENT_CLOSED_REQUEST, 0, "client_closed", -1);
            callback.failed(failure);
        }), status, message);
    }

    private void errorHeaders() {
        HttpFields.Mutable headers = response.getHeaders();
        headers.put(Headers.X_REQUEST_ID, requestId);
        if (tier != null) {
            headers.put(Headers.X_QUEUE_PRIORITY, tier.yamlName());
        }
        if (cache != null) {
            headers.put(Headers.X_CACHE, cache.status().name());
        }
    }

    /** Like {@link #answer}, with {@code Retry-After} (seconds). */
    void answer(int status, String message, String error, long retryAfterSeconds) {
        response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(retryAfterSeconds));
        answer(status, message, error);
    }

    /** Ends the request with a body of the proxy's own (no body for {@code HEAD}), then records it. */
    void write(int status, String contentType, byte[] content) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
        boolean head = "HEAD".equals(request.getMethod());
        response.write(true, head ? null : ByteBuffer.wrap(content), callback);
        complete(status, head ? 0 : content.length, null, -1);
    }

    /** The client went away before its answer ({@code why} says when): nothing is written, 499 is recorded. */
    void leave(String why) {
        leave(new EofException("client left " + why));
    }

    /** The client went away; {@code failure} is how that showed. */
    void leave(Throwable failure) {
        callback.failed(failure);
        complete(Exchange.CLIENT_CLOSED_REQUEST, 0, "client_closed", -1);
    }

    /** Something failed after the answer began: the connection is aborted, {@code error} recorded with 500. */
    void fail(Throwable failure, String error) {
        callback.failed(failure);
        complete(500, 0, error, -1);
    }

    /**
     * The one place a request is recorded ({@code oqp_client_requests_total}, the access line, refunds): the
     * first call counts, later ones do nothing.
     *
     * @param error      a short lower-case outcome when the request did not end normally, else null
     * @param upstreamMs time spent upstream, or -1 when it never went there
     */
    void complete(int status, long bytes, String error, double upstreamMs) {
        if (completed.compareAndSet(false, true)) {
            QueueRequests.Entry entry = tracked;
            if (entry != null) {
                entry.end();
            }
            ledger.record(this, status, bytes, error, upstreamMs);
        }
    }

    /** The client's callback, completed at most once whoever ends the request. */
    private static final class Once implements Callback {
        private final Callback delegate;
        private final AtomicBoolean done = new AtomicBoolean();

        Once(Callback delegate) {
            this.delegate = delegate;
        }

        @Override
        public void succeeded() {
            if (done.compareAndSet(false, true)) {
                delegate.succeeded();
            }
        }

        @Override
        public void failed(Throwable failure) {
            if (done.compareAndSet(false, true)) {
                delegate.failed(failure);
            }
        }

        @Override
        public InvocationType getInvocationType() {
            return delegate.getInvocationType();
        }
    }
}
