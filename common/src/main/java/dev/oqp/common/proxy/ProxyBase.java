package dev.oqp.common.proxy;

import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.proxy.ProxyHandler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.URIUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place that moves bytes between a client and Ollama, on Jetty's core {@link ProxyHandler}.
 *
 * <p>The four legs of an exchange are named everywhere: {@code clientToProxyRequest} (C2P),
 * {@code proxyToServerRequest} (P2S), {@code serverToProxyResponse} (S2P) and
 * {@code proxyToClientResponse} (P2C). This class owns, for every exchange:
 * <ul>
 *   <li>the upstream URI, from {@link #chooseUpstream(Request)};</li>
 *   <li>hop-by-hop header removal (Jetty's list plus anything named by {@code Connection}), both ways;</li>
 *   <li>the upstream {@code Host} set to the upstream's authority (a loopback-bound Ollama answers 403
 *       to any other), and {@code X-Forwarded-For/Proto/Host};</li>
 *   <li>header injection through {@link #injectHeaders(Request, HttpFields.Mutable)}, applied last so
 *       injected headers replace the client's;</li>
 *   <li>the request body ({@link #requestBody(Request)}): streamed with a limit (413 up front when the declared
 *       length is too large, and while streaming when a chunked body grows past it), or bytes the subclass read;</li>
 *   <li>an idle (never total) timeout per exchange and the connect timeout of its client;</li>
 *   <li>one error mapping ({@link ProxyErrors}): 502 when the upstream cannot be reached, 504 when it stays
 *       silent past the idle timeout before the response started, 413 for a body over the limit, 408 for a
 *       client that stalls its body, 400 for a body cut short or with broken chunked framing (the connection
 *       closes after it); once the response has started no error page is ever written: an NDJSON stream gets a
 *       final {@code {"error":"…"}} line and a clean end, an SSE stream whose client cannot be sent chunked framing
 *       (HTTP/1.0, {@code Connection: close}) a final {@code event: error}, and any other response is aborted so
 *       the client sees a truncated body rather than a false success;</li>
 *   <li>{@code X-Accel-Buffering: no} on every streamed answer (NDJSON, SSE), so that nginx does not buffer it;</li>
 *   <li>a response the subclass committed before handing the request over (early headers for a queued stream):
 *       the upstream's status and headers can no longer be sent, so an upstream error status or a failure ends
 *       the stream with one error frame in the route's shape ({@link ErrorResponses#inBandError});</li>
 *   <li>failover ({@link #failover(Request, boolean)}) only while it is provably safe (on a response committed
 *       early: while nothing of an upstream's answer was relayed);</li>
 *   <li>abort of the upstream exchange as soon as the client goes away, even while the upstream is
 *       silent (a model load), so Ollama stops generating;</li>
 *   <li>{@link #onExchangeComplete(Request, Exchange)} exactly once per request, on every path.</li>
 * </ul>
 * The request body and the answer are written to the other side chunk by chunk as they arrive; nothing is
 * buffered (see {@code StreamingBody}). The one exception is opt-in: a {@link ResponseTap} that returns a
 * {@link ResponseRewriter} has that one answer collected whole and replaced (see {@code CollectingBody}).
 *
 * <p>Subclasses override the hooks and nothing else: every Jetty override here is final.
 */
public abstract class ProxyBase extends ProxyHandler {
    private static final Logger LOG = LoggerFactory.getLogger(ProxyBase.class);
    private static final String EXCHANGE_ATTRIBUTE = ProxyBase.class.getName() + ".exchange";
    private static final String X_FORWARDED_FOR = "X-Forwarded-For";
    private static final String X_FORWARDED_PROTO = "X-Forwarded-Proto";
    private static final String X_FORWARDED_HOST = "X-Forwarded-Host";
    /** Tells nginx (and intermediaries that honour it) not to buffer a streamed answer. */
    public static final String X_ACCEL_BUFFERING = "X-Accel-Buffering";

    private final ClientSettings clientSettings;
    private SilenceWatch silenceWatch;

    protected ProxyBase(ClientSettings clientSettings) {
        this.clientSettings = clientSettings;
    }

    @Override
    protected final void doStart() throws Exception {
        silenceWatch = new SilenceWatch(getServer().getScheduler());
        addBean(silenceWatch, true);
        super.doStart();
    }

    @Override
    protected final void doStop() throws Exception {
        super.doStop();
        removeBean(silenceWatch);
    }

    // ---------------------------------------------------------------- hooks

    /**
     * Chooses where this request goes. Called once per request on the request thread, before anything is
     * sent upstream; must not block.
     */
    protected abstract Upstream chooseUpstream(Request clientToProxyRequest);

    /**
     * Adds or replaces headers of the upstream request. Called after the client's end-to-end headers
     * were copied and the forwarding headers added, so what is put here wins; again on each failover. Must not
     * block. Default: nothing.
     */
    protected void injectHeaders(Request clientToProxyRequest, HttpFields.Mutable proxyToServerHeaders) {
    }

    /**
     * What is sent upstream as this request's body: the client's, streamed with a limit
     * ({@link RequestBody#streamed(long)}), or bytes the subclass has already read ({@link RequestBody#buffered}:
     * the queue proxy reads inference bodies to route them, may add {@code keep_alive}, and replays them on
     * failover). Called once per request on the request thread, before {@link #chooseUpstream}; must not block
     * and must not return null. Default: streamed, no limit.
     */
    protected RequestBody requestBody(Request clientToProxyRequest) {
        return RequestBody.streamed(Long.MAX_VALUE);
    }

    /**
     * Adds headers to every response this proxy sends the client: a proxied one (after the upstream's
     * headers were copied, so what is put here wins) and every error this class writes itself (405, 400,
     * 413, 502, 504, 503). Must not block. Default: nothing.
     */
    protected void addResponseHeaders(Request clientToProxyRequest, HttpFields.Mutable proxyToClientHeaders) {
    }

    /**
     * What observes (and may replace) the upstream's answer to this request, or null (the default) for nothing.
     * Called on the upstream's thread when the headers of an upstream answer arrive, after
     * {@link #addResponseHeaders}: once per answer, so never for an attempt that failed over before answering.
     * Must not block.
     */
    protected ResponseTap tap(Request clientToProxyRequest) {
        return null;
    }

    /**
     * The upstream could not be reached ({@code unreachable}), or closed the connection before any byte of
     * its answer; nothing has been sent to the client, the client is still there and the request body can
     * be sent again (it is buffered, or there is none). Returns where to send the request instead, or null
     * to answer the failure (502). Called on an upstream thread; must not block. Default: null.
     */
    protected Upstream failover(Request clientToProxyRequest, boolean unreachable) {
        return null;
    }

    /**
     * Whether the upstream request is kept when its client leaves before the upstream's first response byte,
     * and closed only when that byte comes (or the upstream's idle timeout ends it). Ollama aborts a model
     * load when its request goes away, and a client that gave up and retries would start the load again.
     * Default false: the upstream request is aborted at once.
     */
    protected boolean holdUntilFirstByte(Request clientToProxyRequest) {
        return false;
    }

    /**
     * Called exactly once per request that entered this handler, after the response to the client
     * ended on whatever path (success, upstream failure, client gone, limit exceeded). Must not throw
     * and must not block: it may run on a selector thread. Logging is fine (lines are queued, see
     * {@code Logging}); file or network I/O is not. Default: nothing.
     */
    protected void onExchangeComplete(Request clientToProxyRequest, Exchange exchange) {
    }

    // ---------------------------------------------------------------- the upstream client

    @Override
    protected final HttpClient newHttpClient() {
        // The response listeners only write to the client asynchronously and the completion hook must not
        // block, so upstream responses are processed on the thread that read them, without a hand-off.
        return UpstreamClients.create(clientSettings, getServer(), getClass().getSimpleName() + "-client", true);
    }

    @Override
    protected final void configureHttpClient(HttpClient httpClient) {
        super.configureHttpClient(httpClient);
        httpClient.setMaxConnectionsPerDestination(clientSettings.maxConnectionsPerDestination());
        httpClient.setMaxRequestsQueuedPerDestination(clientSettings.maxQueuedPerDestination());
        // Pooled connections idle this long are closed; the next request connects (and resolves) anew.
        httpClient.setIdleTimeout(TimeUnit.SECONDS.toMillis(60));
    }

    // ---------------------------------------------------------------- C2P

    /**
     * Nothing in {@link #handle} blocks (the upstream exchange is asynchronous and the hooks must not
     * block), so Jetty may run it on the thread that parsed the request instead of handing it to another.
     */
    @Override
    public final InvocationType getInvocationType() {
        return InvocationType.NON_BLOCKING;
    }

    @Override
    public final boolean handle(Request clientToProxyRequest, Response proxyToClientResponse,
                                Callback proxyToClientCallback) {
        Exchange exchange = new Exchange(clientToProxyRequest.getMethod(), clientToProxyRequest.getHttpURI().getPath(),
                System.nanoTime());
        Callback completion = new CompletionCallback(this, silenceWatch, clientToProxyRequest, proxyToClientResponse,
                proxyToClientCallback, exchange);
        // Committed before the exchange began: the subclass sent its headers early (a queued stream).
        exchange.committedEarly(proxyToClientResponse.isCommitted());
        try {
            String method = clientToProxyRequest.getMethod();
            if ("CONNECT".equals(method) || "TRACE".equals(method)) {
                // Never tunnel, never echo a request carrying injected secrets back to the client.
                proxyToClientResponse.getHeaders().put(HttpHeader.ALLOW, "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH");
                return refuse(clientToProxyRequest, proxyToClientResponse, completion, exchange,
                        new IllegalArgumentException(method), Exchange.Outcome.REJECTED, 405, "method not allowed");
            }
            String path = clientToProxyRequest.getHttpURI().getPath();
            if (path == null || !path.startsWith("/")) {
                return refuse(clientToProxyRequest, proxyToClientResponse, completion, exchange,
                        new IllegalArgumentException("target"), Exchange.Outcome.REJECTED, 400,
                        "request target must be a path");
            }
            String refusal = RequestTargets.refusal(clientToProxyRequest.getHttpURI());
            if (refusal != null) {
                // Before anything is decided on it or sent: no host is touched, so no host failure is counted.
                return refuse(clientToProxyRequest, proxyToClientResponse, completion, exchange,
                        new IllegalArgumentException(refusal), Exchange.Outcome.REJECTED, 400, refusal);
            }
            RequestBody body = Objects.requireNonNull(requestBody(clientToProxyRequest), "requestBody");
            exchange.requestBody(body);
            if (clientToProxyRequest.getLength() > body.maxBytes()) {
                BodyTooLargeException tooLarge = new BodyTooLargeException(body.maxBytes());
                return refuse(clientToProxyRequest, proxyToClientResponse, completion, exchange, tooLarge,
                        Exchange.Outcome.BODY_TOO_LARGE, 413,
                        ProxyErrors.messageFor(Exchange.Outcome.BODY_TOO_LARGE, tooLarge));
            }
            exchange.upstream(chooseUpstream(clientToProxyRequest));
            clientToProxyRequest.setAttribute(EXCHANGE_ATTRIBUTE, exchange);
            return super.handle(clientToProxyRequest, proxyToClientResponse, completion);
        } catch (RuntimeException x) {
            completion.failed(x);
            return true;
        }
    }

    /** Answers a request that is never sent upstream. */
    private boolean refuse(Request clientToProxyRequest, Response proxyToClientResponse, Callback completion,
                           Exchange exchange, Throwable reason, Exchange.Outcome outcome, int status, String message) {
        exchange.failed(reason, outcome);
        addResponseHeaders(clientToProxyRequest, proxyToClientResponse.getHeaders());
        ErrorResponses.write(clientToProxyRequest, proxyToClientResponse,
                BodyDrain.lingering(clientToProxyRequest, BodyDrain.MAX_BYTES, completion), status, message);
        return true;
    }

    private static Exchange exchange(Request clientToProxyRequest) {
        return (Exchange) clientToProxyRequest.getAttribute(EXCHANGE_ATTRIBUTE);
    }

    /** The id of the request in debug lines (Jetty's). */
    static String idOf(Request clientToProxyRequest) {
        return requestId(clientToProxyRequest);
    }

    @Override
    protected final HttpURI rewriteHttpURI(Request clientToProxyRequest) {
        return exchange(clientToProxyRequest).upstream().resolve(clientToProxyRequest.getHttpURI());
    }

    // ---------------------------------------------------------------- P2S

    @Override
    protected final org.eclipse.jetty.client.Request newProxyToServerRequest(Request clientToProxyRequest,
                                                                             HttpURI newHttpURI) {
        Exchange exchange = exchange(clientToProxyRequest);
        // From the parts: HttpURI.toURI() would build and parse a whole java.net.URI for every request.
        int port = newHttpURI.getPort() > 0 ? newHttpURI.getPort() : URIUtil.getDefaultPortForScheme(newHttpURI.getScheme());
        org.eclipse.jetty.client.Request proxyToServerRequest = getHttpClient()
                .newRequest(newHttpURI.getHost(), port)
                .scheme(newHttpURI.getScheme())
                .path(newHttpURI.getPathQuery())
                .method(clientToProxyRequest.getMethod());
        proxyToServerRequest.idleTimeout(exchange.upstream().idleTimeout().toMillis(), TimeUnit.MILLISECONDS);
        // The upstream's idle timeout governs silence during an exchange (a model load may last minutes);
        // the client connection's idle timeout must not end it. A stalled write still fails on its own.
        clientToProxyRequest.addIdleTimeoutListener(timeout -> false);
        ClientGone.register(this, silenceWatch, clientToProxyRequest, proxyToServerRequest, exchange);
        return proxyToServerRequest;
    }

    @Override
    protected final void copyRequestHeaders(Request clientToProxyRequest,
                                            org.eclipse.jetty.client.Request proxyToServerRequest) {
        super.copyRequestHeaders(clientToProxyRequest, proxyToServerRequest);
        boolean buffered = exchange(clientToProxyRequest).requestBody().isBuffered();
        proxyToServerRequest.headers(headers -> {
            // Without a Host header the client sends the upstream's own authority.
            headers.remove(HttpHeader.HOST);
            if (buffered) {
                // The body sent is the buffered one, framed by the client from its own length.
                headers.remove(HttpHeader.CONTENT_LENGTH);
                headers.remove(HttpHeader.TRANSFER_ENCODING);
            }
        });
    }

    @Override
    protected final void addProxyHeaders(Request clientToProxyRequest,
                                         org.eclipse.jetty.client.Request proxyToServerRequest) {
        String remote = Request.getRemoteAddr(clientToProxyRequest);
        String proto = clientToProxyRequest.isSecure() ? "https" : "http";
        String host = clientToProxyRequest.getHeaders().get(HttpHeader.HOST);
        proxyToServerRequest.headers(headers -> {
            // This proxy is the edge: what a client claims about earlier hops is not passed on, so an
            // upstream that trusts this proxy learns the real peer, not an address the client chose.
            headers.remove(HttpHeader.FORWARDED);
            headers.put(X_FORWARDED_FOR, remote);
            headers.put(X_FORWARDED_PROTO, proto);
            if (host != null) {
                headers.put(X_FORWARDED_HOST, host);
            } else {
                headers.remove(X_FORWARDED_HOST);
            }
            injectHeaders(clientToProxyRequest, headers);
        });
    }

    @Override
    protected final org.eclipse.jetty.client.Request.Content newProxyToServerRequestContent(
            Request clientToProxyRequest, Response proxyToClientResponse,
            org.eclipse.jetty.client.Request proxyToServerRequest) {
        RequestBody body = exchange(clientToProxyRequest).requestBody();
        if (body.isBuffered()) {
            return new BytesRequestContent(clientToProxyRequest.getHeaders().get(HttpHeader.CONTENT_TYPE), body.bytes());
        }
        return new ClientRequestContent(super.newProxyToServerRequestContent(clientToProxyRequest,
                proxyToClientResponse, proxyToServerRequest), body.maxBytes());
    }

    @Override
    protected final void sendProxyToServerRequest(Request clientToProxyRequest,
                                                  org.eclipse.jetty.client.Request proxyToServerRequest,
                                                  Response proxyToClientResponse, Callback proxyToClientCallback) {
        exchange(clientToProxyRequest).upstreamStarted();
        super.sendProxyToServerRequest(clientToProxyRequest, proxyToServerRequest, proxyToClientResponse,
                proxyToClientCallback);
    }

    // ---------------------------------------------------------------- S2P and P2C

    @Override
    protected final org.eclipse.jetty.client.Response.CompleteListener newServerToProxyResponseListener(
            Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest,
            Response proxyToClientResponse, Callback proxyToClientCallback) {
        return new ResponseListener(clientToProxyRequest, proxyToServerRequest, proxyToClientResponse,
                proxyToClientCallback);
    }

    @Override
    protected final void onServerToProxyResponseFailure(Request clientToProxyRequest,
                                                        org.eclipse.jetty.client.Request proxyToServerRequest,
                                                        org.eclipse.jetty.client.Response serverToProxyResponse,
                                                        Response proxyToClientResponse, Callback proxyToClientCallback,
                                                        Throwable failure) {
        Exchange exchange = exchange(clientToProxyRequest);
        if (UpstreamFailure.mayFailOver(getServer().isStopping(), clientToProxyRequest, proxyToClientResponse,
                exchange, failure)) {
            Upstream next;
            try {
                next = failover(clientToProxyRequest, ProxyErrors.outcomeOf(failure) == Exchange.Outcome.UPSTREAM_CONNECT);
            } catch (RuntimeException x) {
                // Jetty's notifier would swallow it and the client would never be answered: no other host then.
                LOG.warn("failover hook failed", x);
                next = null;
            }
            if (next != null) {
                retry(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback, exchange, next);
                return;
            }
        }
        UpstreamFailure.answer(this, clientToProxyRequest, proxyToClientResponse, proxyToClientCallback, exchange,
                failure);
    }

    /** Sends the request again, to {@code next}: a new upstream exchange under the same client exchange. */
    private void retry(Request clientToProxyRequest, Response proxyToClientResponse, Callback proxyToClientCallback,
                       Exchange exchange, Upstream next) {
        ClientCloseWatcher watcher = silenceWatch.done(exchange);
        if (watcher != null) {
            if (watcher.pipelined()) {
                // A byte of the client's next request is gone with this watcher: the connection must still end.
                exchange.pipelined(true);
            }
            exchange.clientCloseWatcher(null);
        }
        exchange.retry(next);
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} P2S failing over to {}", requestId(clientToProxyRequest), next.name());
        }
        try {
            super.handle(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback);
        } catch (RuntimeException x) {
            proxyToClientCallback.failed(x);
        }
    }

    @Override
    protected final void onProxyToClientResponseFailure(Request clientToProxyRequest,
                                                        org.eclipse.jetty.client.Request proxyToServerRequest,
                                                        org.eclipse.jetty.client.Response serverToProxyResponse,
                                                        Response proxyToClientResponse, Callback proxyToClientCallback,
                                                        Throwable failure) {
        // The upstream response was complete but its last write to the client failed: the client left.
        exchange(clientToProxyRequest).clientGone(true);
        super.onProxyToClientResponseFailure(clientToProxyRequest, proxyToServerRequest, serverToProxyResponse,
                proxyToClientResponse, proxyToClientCallback, failure);
    }

    /**
     * Follows one upstream answer: records it on the exchange, drops the hop-by-hop headers the upstream named,
     * shows the answer to the subclass's {@link ResponseTap}, and hands the body to {@link StreamingBody}, or to
     * {@link CollectingBody} when the tap asked for the answer to be replaced.
     */
    private final class ResponseListener extends ProxyResponseListener {
        private final Request clientToProxyRequest;
        private final Response proxyToClientResponse;
        private final Exchange exchange;
        private final StreamingBody streaming;
        /** Set from the headers on; upstream thread only. */
        private ResponseTap tap;
        /** Non-null when the answer is replaced; upstream thread only. */
        private CollectingBody collecting;

        ResponseListener(Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest,
                         Response proxyToClientResponse, Callback proxyToClientCallback) {
            super(clientToProxyRequest, proxyToServerRequest, proxyToClientResponse, proxyToClientCallback);
            this.clientToProxyRequest = clientToProxyRequest;
            this.proxyToClientResponse = proxyToClientResponse;
            this.exchange = exchange(clientToProxyRequest);
            this.streaming = new StreamingBody(proxyToClientResponse, exchange);
        }

        @Override
        public void onBegin(org.eclipse.jetty.client.Response serverToProxyResponse) {
            exchange.upstreamFirstByte();
            silenceWatch.done(exchange);
            super.onBegin(serverToProxyResponse);
        }

        @Override
        public void onHeaders(org.eclipse.jetty.client.Response serverToProxyResponse) {
            super.onHeaders(serverToProxyResponse);
            // Headers the upstream named in Connection are hop-by-hop too (Jetty drops only its fixed list).
            for (String connection : serverToProxyResponse.getHeaders().getValuesList(HttpHeader.CONNECTION)) {
                for (String name : connection.split(",")) {
                    if (!name.isBlank()) {
                        proxyToClientResponse.getHeaders().remove(name.trim());
                    }
                }
            }
            ClientCloseWatcher watcher = exchange.clientCloseWatcher();
            if ((watcher != null && watcher.pipelined() || exchange.pipelined())) {
                // A byte of the client's next request was consumed while watching: this connection ends here.
                proxyToClientResponse.getHeaders().put(HttpHeader.CONNECTION, "close");
            }
            String contentType = serverToProxyResponse.getHeaders().get(HttpHeader.CONTENT_TYPE);
            exchange.ndjson(contentType != null && contentType.regionMatches(true, 0, "application/x-ndjson", 0, 20));
            exchange.eventStream(contentType != null && contentType.regionMatches(true, 0, "text/event-stream", 0, 17));
            if (exchange.ndjson() || exchange.eventStream()) {
                // A streamed answer: nginx (and what reads this header) must pass each chunk on, not buffer it.
                proxyToClientResponse.getHeaders().put(X_ACCEL_BUFFERING, "no");
            }
            addResponseHeaders(clientToProxyRequest, proxyToClientResponse.getHeaders());
            tap = tap(clientToProxyRequest);
            if (tap != null) {
                tap.onHeaders(serverToProxyResponse, proxyToClientResponse);
                ResponseRewriter rewriter = tap.rewriter(serverToProxyResponse);
                if (rewriter != null) {
                    collecting = new CollectingBody(clientToProxyRequest, serverToProxyResponse, proxyToClientResponse,
                            rewriter, streaming);
                }
            }
            int status = serverToProxyResponse.getStatus();
            if (exchange.committedEarly() && (status < 200 || status > 299)) {
                // The client already has a 200: the upstream's error becomes the stream's last frame.
                collecting = new CollectingBody(clientToProxyRequest, serverToProxyResponse, proxyToClientResponse,
                        InBandErrors.rewriter(clientToProxyRequest, proxyToClientResponse, exchange, status), streaming);
            }
            Runnable abort = exchange.abortOnAnswer();
            if (abort != null) {
                // The client left while this upstream request was held for its answer (the subclass has seen
                // its headers): end it now.
                abort.run();
            }
        }

        @Override
        public void onContent(org.eclipse.jetty.client.Response serverToProxyResponse, Content.Chunk serverToProxyChunk,
                              Runnable serverToProxyDemander) {
            ByteBuffer content = serverToProxyChunk.getByteBuffer();
            if (content.hasRemaining()) {
                exchange.contentEnds(content);
                if (tap != null) {
                    tap.onContent(content.asReadOnlyBuffer());
                }
            }
            if (collecting != null) {
                collecting.onContent(serverToProxyResponse, serverToProxyChunk, serverToProxyDemander);
            } else {
                streaming.onContent(serverToProxyResponse, serverToProxyChunk, serverToProxyDemander);
            }
        }

        @Override
        public void onSuccess(org.eclipse.jetty.client.Response serverToProxyResponse) {
            exchange.upstreamEnded();
            if (collecting != null) {
                collecting.onSuccess(this);
            } else {
                streaming.onSuccess(this);
            }
        }
    }
}
