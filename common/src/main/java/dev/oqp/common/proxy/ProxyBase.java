package dev.oqp.common.proxy;

import java.net.ConnectException;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.UnresolvedAddressException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

import javax.net.ssl.SSLException;

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
 *   <li>hop-by-hop header removal (Jetty's list plus anything named by {@code Connection});</li>
 *   <li>the upstream {@code Host} set to the upstream's authority (a loopback-bound Ollama answers 403
 *       to any other), and {@code X-Forwarded-For/Proto/Host};</li>
 *   <li>header injection through {@link #injectHeaders(Request, HttpFields.Mutable)}, applied last so
 *       injected headers replace the client's;</li>
 *   <li>the request body limit ({@link #maxRequestBytes(Request)}): 413 up front when the declared length
 *       is too large, and while streaming when a chunked body grows past it;</li>
 *   <li>an idle (never total) timeout per exchange and the connect timeout of its client;</li>
 *   <li>one error mapping ({@link #statusFor(Throwable)}): 502 when the upstream cannot be reached,
 *       504 when it stays silent past the idle timeout before the response started, 413 for a body over
 *       the limit; once the response has started no error page is ever written: an NDJSON stream gets a
 *       final {@code {"error":"…"}} line and a clean end, any other response is aborted so the client
 *       sees a truncated body rather than a false success;</li>
 *   <li>abort of the upstream exchange as soon as the client goes away, even while the upstream is
 *       silent (a model load), so Ollama stops generating;</li>
 *   <li>{@link #onExchangeComplete(Exchange)} exactly once per request, on every path.</li>
 * </ul>
 * Every chunk is written to the other side as it arrives, in both directions; nothing is buffered.
 *
 * <p>Subclasses override the hooks and nothing else.
 */
public abstract class ProxyBase extends ProxyHandler {
    private static final Logger LOG = LoggerFactory.getLogger(ProxyBase.class);
    private static final String EXCHANGE_ATTRIBUTE = ProxyBase.class.getName() + ".exchange";
    private static final String X_FORWARDED_FOR = "X-Forwarded-For";
    private static final String X_FORWARDED_PROTO = "X-Forwarded-Proto";
    private static final String X_FORWARDED_HOST = "X-Forwarded-Host";

    private final ClientSettings clientSettings;
    private SilenceWatch silenceWatch;

    protected ProxyBase(ClientSettings clientSettings) {
        this.clientSettings = clientSettings;
    }

    @Override
    protected void doStart() throws Exception {
        silenceWatch = new SilenceWatch(getServer().getScheduler());
        addBean(silenceWatch, true);
        super.doStart();
    }

    @Override
    protected void doStop() throws Exception {
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
     * were copied and the forwarding headers added, so what is put here wins. Default: nothing.
     */
    protected void injectHeaders(Request clientToProxyRequest, HttpFields.Mutable proxyToServerHeaders) {
    }

    /** The largest request body accepted for this request, in bytes. Default: no limit. */
    protected long maxRequestBytes(Request clientToProxyRequest) {
        return Long.MAX_VALUE;
    }

    /**
     * The request body to send upstream when the subclass has already read it (the queue proxy reads
     * inference bodies to route them, may add {@code keep_alive}, and replays them on failover), or null
     * to stream the client's body as it arrives (the default). A buffered body is sent with its own
     * {@code Content-Length}; the client's framing headers are not copied.
     */
    protected byte[] bufferedRequestBody(Request clientToProxyRequest) {
        return null;
    }

    /**
     * Called when the upstream's response headers have been copied to the client response and before
     * anything is written to the client: the place to add response headers. Default: nothing.
     */
    protected void onServerToProxyHeaders(Request clientToProxyRequest,
                                          org.eclipse.jetty.client.Response serverToProxyResponse,
                                          Response proxyToClientResponse) {
    }

    /**
     * Adds headers to every response this proxy sends the client: a proxied one (after the upstream's
     * headers were copied, so what is put here wins) and every error this class writes itself (405, 400,
     * 413, 502, 504, 503). Must not block. Default: nothing.
     */
    protected void addResponseHeaders(Request clientToProxyRequest, HttpFields.Mutable proxyToClientHeaders) {
    }

    /**
     * Sees every chunk of the upstream response body just before it is written to the client. The buffer
     * is a view: read it, never change its position or limit, never keep it. Default: nothing.
     */
    protected void onServerToProxyContent(Request clientToProxyRequest, ByteBuffer serverToProxyContent) {
    }

    /**
     * Replaces the upstream's whole answer rather than stream it: called once the upstream's headers were
     * copied (after {@link #onServerToProxyHeaders}); returns null (the default) to stream the answer chunk by
     * chunk as always, or a rewriter. With a rewriter the body is collected (every chunk is still shown to
     * {@link #onServerToProxyContent}), nothing is written to the client until the upstream ends, and then
     * the rewriter's bytes are sent in one write with their own {@code Content-Length}. A body past
     * {@link ResponseRewriter#maxBytes()} either aborts the upstream (502), or, when the rewriter
     * {@link ResponseRewriter#passThroughWhenLarger() passes large answers through}, is streamed on unchanged from
     * there (what was collected first). A rewriter that throws answers 502 with its message. Meant for small
     * answers that are never streamed (the embedding cache).
     */
    protected ResponseRewriter rewriteResponse(Request clientToProxyRequest,
                                               org.eclipse.jetty.client.Response serverToProxyResponse) {
        return null;
    }

    /** What {@link #rewriteResponse} returns: a bound on the collected answer and the replacement of it. */
    public interface ResponseRewriter {
        /** The largest upstream body collected. */
        long maxBytes();

        /** True: an answer larger than {@link #maxBytes()} is sent on unchanged; false (the default): 502. */
        default boolean passThroughWhenLarger() {
            return false;
        }

        /** The body sent to the client instead of {@code serverToProxyBody}; runs on an upstream thread, must not block. */
        byte[] rewrite(byte[] serverToProxyBody) throws Exception;
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

    // ---------------------------------------------------------------- the error mapping

    /** The status for a failure before the response started: the one error mapping of the proxies. */
    public static int statusFor(Throwable failure) {
        return switch (outcomeOf(failure)) {
            case BODY_TOO_LARGE -> 413;
            case CLIENT_TIMEOUT -> 408;
            case CLIENT_CLOSED -> Exchange.CLIENT_CLOSED_REQUEST;
            case UPSTREAM_TIMEOUT -> 504;
            default -> 502;
        };
    }

    static Exchange.Outcome outcomeOf(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof BodyTooLargeException) {
                return Exchange.Outcome.BODY_TOO_LARGE;
            }
            if (t instanceof ClientBodyException) {
                return hasCause(t, TimeoutException.class) ? Exchange.Outcome.CLIENT_TIMEOUT : Exchange.Outcome.CLIENT_CLOSED;
            }
            if (t instanceof TimeoutException) {
                return Exchange.Outcome.UPSTREAM_TIMEOUT;
            }
            if (t instanceof ConnectException || t instanceof UnresolvedAddressException
                    || t instanceof UnknownHostException || t instanceof java.net.SocketTimeoutException
                    || t instanceof SSLException) {
                return Exchange.Outcome.UPSTREAM_CONNECT;
            }
        }
        return Exchange.Outcome.UPSTREAM_BROKEN;
    }

    static String messageFor(Exchange.Outcome outcome, Throwable failure) {
        return switch (outcome) {
            case BODY_TOO_LARGE -> "request body too large (limit "
                    + ((BodyTooLargeException) rootOf(failure, BodyTooLargeException.class)).limit() + " bytes)";
            case UPSTREAM_TIMEOUT -> "upstream timed out";
            case CLIENT_TIMEOUT -> "request body not received in time";
            case CLIENT_CLOSED -> "client closed the connection";
            case UPSTREAM_CONNECT -> "upstream unreachable";
            default -> "upstream connection failed";
        };
    }

    /** True when {@code failure} or one of its causes is a {@code type}. */
    public static boolean hasCause(Throwable failure, Class<? extends Throwable> type) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    private static Throwable rootOf(Throwable failure, Class<? extends Throwable> type) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return t;
            }
        }
        return failure;
    }

    // ---------------------------------------------------------------- the upstream client

    @Override
    protected HttpClient newHttpClient() {
        // The response listeners only write to the client asynchronously and the completion hook must not
        // block, so upstream responses are processed on the thread that read them, without a hand-off.
        return UpstreamClients.create(clientSettings, getServer(), getClass().getSimpleName() + "-client", true);
    }

    @Override
    protected void configureHttpClient(HttpClient httpClient) {
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
    public InvocationType getInvocationType() {
        return InvocationType.NON_BLOCKING;
    }

    @Override
    public boolean handle(Request clientToProxyRequest, Response proxyToClientResponse, Callback proxyToClientCallback) {
        Exchange exchange = new Exchange(clientToProxyRequest.getMethod(), clientToProxyRequest.getHttpURI().getPath(),
                System.nanoTime());
        Callback completion = new CompletionCallback(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback,
                exchange);
        try {
            String method = clientToProxyRequest.getMethod();
            if ("CONNECT".equals(method) || "TRACE".equals(method)) {
                // Never tunnel, never echo a request carrying injected secrets back to the client.
                exchange.failed(new IllegalArgumentException(method), Exchange.Outcome.REJECTED);
                proxyToClientResponse.getHeaders().put(HttpHeader.ALLOW, "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH");
                addResponseHeaders(clientToProxyRequest, proxyToClientResponse.getHeaders());
                ErrorResponses.write(clientToProxyRequest, proxyToClientResponse, completion, 405, "method not allowed");
                return true;
            }
            String path = clientToProxyRequest.getHttpURI().getPath();
            if (path == null || !path.startsWith("/")) {
                exchange.failed(new IllegalArgumentException("target"), Exchange.Outcome.REJECTED);
                addResponseHeaders(clientToProxyRequest, proxyToClientResponse.getHeaders());
                ErrorResponses.write(clientToProxyRequest, proxyToClientResponse, completion, 400,
                        "request target must be a path");
                return true;
            }
            long limit = maxRequestBytes(clientToProxyRequest);
            long declared = clientToProxyRequest.getLength();
            if (declared > limit) {
                BodyTooLargeException tooLarge = new BodyTooLargeException(limit);
                exchange.failed(tooLarge, Exchange.Outcome.BODY_TOO_LARGE);
                addResponseHeaders(clientToProxyRequest, proxyToClientResponse.getHeaders());
                ErrorResponses.write(clientToProxyRequest, proxyToClientResponse, completion, 413,
                        messageFor(Exchange.Outcome.BODY_TOO_LARGE, tooLarge));
                return true;
            }
            exchange.upstream(chooseUpstream(clientToProxyRequest));
            clientToProxyRequest.setAttribute(EXCHANGE_ATTRIBUTE, exchange);
            return super.handle(clientToProxyRequest, proxyToClientResponse, completion);
        } catch (RuntimeException x) {
            completion.failed(x);
            return true;
        }
    }

    private static Exchange exchange(Request clientToProxyRequest) {
        return (Exchange) clientToProxyRequest.getAttribute(EXCHANGE_ATTRIBUTE);
    }

    @Override
    protected HttpURI rewriteHttpURI(Request clientToProxyRequest) {
        return exchange(clientToProxyRequest).upstream().resolve(clientToProxyRequest.getHttpURI());
    }

    // ---------------------------------------------------------------- P2S

    @Override
    protected org.eclipse.jetty.client.Request newProxyToServerRequest(Request clientToProxyRequest, HttpURI newHttpURI) {
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
        // The client going away is Ollama's only cancel signal: abort upstream at once, even when no
        // byte is flowing (a model load can keep the upstream silent for minutes).
        Consumer<Throwable> clientGone = failure -> {
            if (getServer().isStopping()) {
                // Not the client: the drain timeout ran out and the server is closing connections.
                exchange.failed(failure, Exchange.Outcome.SHUTDOWN);
            } else {
                exchange.clientGone(true);
                if (!exchange.answered() && holdUntilFirstByte(clientToProxyRequest)) {
                    // Aborted when the first byte comes; unless it came meanwhile (then at once, below).
                    exchange.abortOnAnswer(() -> proxyToServerRequest.abort(failure));
                    if (!exchange.answered()) {
                        if (LOG.isDebugEnabled()) {
                            LOG.debug("{} C2P client gone, P2S kept until its first byte", requestId(clientToProxyRequest));
                        }
                        return;
                    }
                }
            }
            if (LOG.isDebugEnabled()) {
                LOG.debug("{} C2P client gone, aborting P2S: {}", requestId(clientToProxyRequest), failure.toString());
            }
            proxyToServerRequest.abort(failure);
        };
        clientToProxyRequest.addFailureListener(clientGone);
        ClientCloseWatcher watcher = ClientCloseWatcher.of(clientToProxyRequest, clientGone);
        if (watcher != null) {
            exchange.clientCloseWatcher(watcher);
            // Watched only once the body is sent and only if the upstream then stays silent a while.
            proxyToServerRequest.onRequestSuccess(sent -> silenceWatch.awaiting(exchange));
        }
        return proxyToServerRequest;
    }

    @Override
    protected void copyRequestHeaders(Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest) {
        super.copyRequestHeaders(clientToProxyRequest, proxyToServerRequest);
        boolean buffered = bufferedRequestBody(clientToProxyRequest) != null;
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
    protected void addProxyHeaders(Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest) {
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
    protected org.eclipse.jetty.client.Request.Content newProxyToServerRequestContent(
            Request clientToProxyRequest, Response proxyToClientResponse,
            org.eclipse.jetty.client.Request proxyToServerRequest) {
        byte[] buffered = bufferedRequestBody(clientToProxyRequest);
        if (buffered != null) {
            return new BytesRequestContent(clientToProxyRequest.getHeaders().get(HttpHeader.CONTENT_TYPE), buffered);
        }
        org.eclipse.jetty.client.Request.Content content = super.newProxyToServerRequestContent(clientToProxyRequest,
                proxyToClientResponse, proxyToServerRequest);
        return new ClientRequestContent(content, maxRequestBytes(clientToProxyRequest));
    }

    @Override
    protected void sendProxyToServerRequest(Request clientToProxyRequest,
                                            org.eclipse.jetty.client.Request proxyToServerRequest,
                                            Response proxyToClientResponse, Callback proxyToClientCallback) {
        exchange(clientToProxyRequest).upstreamStarted();
        super.sendProxyToServerRequest(clientToProxyRequest, proxyToServerRequest, proxyToClientResponse,
                proxyToClientCallback);
    }

    // ---------------------------------------------------------------- S2P and P2C

    @Override
    protected org.eclipse.jetty.client.Response.CompleteListener newServerToProxyResponseListener(
            Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest,
            Response proxyToClientResponse, Callback proxyToClientCallback) {
        return new StreamingListener(clientToProxyRequest, proxyToServerRequest, proxyToClientResponse,
                proxyToClientCallback);
    }

    @Override
    protected void onServerToProxyResponseFailure(Request clientToProxyRequest,
                                                  org.eclipse.jetty.client.Request proxyToServerRequest,
                                                  org.eclipse.jetty.client.Response serverToProxyResponse,
                                                  Response proxyToClientResponse, Callback proxyToClientCallback,
                                                  Throwable failure) {
        Exchange exchange = exchange(clientToProxyRequest);
        if (mayFailOver(clientToProxyRequest, proxyToClientResponse, exchange, failure)) {
            Upstream next;
            try {
                next = failover(clientToProxyRequest, outcomeOf(failure) == Exchange.Outcome.UPSTREAM_CONNECT);
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
        exchange.upstreamEnded();
        Exchange.Outcome outcome = exchange.clientGone() ? Exchange.Outcome.CLIENT_CLOSED
                : exchange.outcome() == Exchange.Outcome.SHUTDOWN ? Exchange.Outcome.SHUTDOWN : outcomeOf(failure);
        if (outcome == Exchange.Outcome.CLIENT_CLOSED) {
            exchange.clientGone(true);
        }
        exchange.failed(failure, outcome);
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} S2P failed ({}), P2C committed={}: {}", requestId(clientToProxyRequest), outcome,
                    proxyToClientResponse.isCommitted(), failure.toString());
        }
        boolean committed = proxyToClientResponse.isCommitted();
        if (outcome == Exchange.Outcome.CLIENT_CLOSED) {
            if (!committed) {
                // Nobody to answer: close rather than let Jetty write its HTML error page.
                clientToProxyRequest.getConnectionMetaData().getConnection().getEndPoint().close(failure);
            }
            proxyToClientCallback.failed(failure);
        } else if (outcome == Exchange.Outcome.SHUTDOWN && committed) {
            proxyToClientCallback.failed(failure);
        } else if (!committed) {
            proxyToClientResponse.reset();
            ClientCloseWatcher watcher = exchange.clientCloseWatcher();
            if (outcome == Exchange.Outcome.SHUTDOWN || (watcher != null && watcher.pipelined() || exchange.pipelined())) {
                proxyToClientResponse.getHeaders().put(HttpHeader.CONNECTION, "close");
            }
            int status = outcome == Exchange.Outcome.SHUTDOWN ? 503 : statusFor(failure);
            String message = outcome == Exchange.Outcome.SHUTDOWN ? "server shutting down" : messageFor(outcome, failure);
            addResponseHeaders(clientToProxyRequest, proxyToClientResponse.getHeaders());
            ErrorResponses.write(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback, status, message);
        } else if (exchange.ndjson()) {
            byte[] line = ErrorResponses.ndjsonErrorLine(messageFor(outcome, failure));
            ByteBuffer tail;
            if (exchange.endsWithNewline()) {
                tail = ByteBuffer.wrap(line);
            } else {
                // The upstream broke mid-line: end that line so the error is a line of its own.
                tail = ByteBuffer.allocate(line.length + 1).put((byte) '\n').put(line).flip();
            }
            proxyToClientResponse.write(true, tail, proxyToClientCallback);
        } else {
            // No error page after the first byte: abort, so the client sees a truncated response.
            proxyToClientCallback.failed(failure);
        }
    }

    /**
     * A failure another host may be spared: the upstream was unreachable, or it closed the connection before
     * any byte of its answer; nothing was sent to the client and it is still there; not shutting down; and
     * the request can be sent again as it was (a buffered body, or none).
     */
    private boolean mayFailOver(Request clientToProxyRequest, Response proxyToClientResponse, Exchange exchange,
                                Throwable failure) {
        if (proxyToClientResponse.isCommitted() || exchange.clientGone() || exchange.outcome() == Exchange.Outcome.SHUTDOWN
                || getServer().isStopping()) {
            return false;
        }
        Exchange.Outcome outcome = outcomeOf(failure);
        if (outcome != Exchange.Outcome.UPSTREAM_CONNECT
                && (outcome != Exchange.Outcome.UPSTREAM_BROKEN || exchange.answered())) {
            return false;
        }
        long declared = clientToProxyRequest.getLength();
        return bufferedRequestBody(clientToProxyRequest) != null || declared == 0
                || declared < 0 && !clientToProxyRequest.getHeaders().contains(HttpHeader.TRANSFER_ENCODING);
    }

    /** Sends the request again, to {@code next}: a new upstream exchange under the same client exchange. */
    private void retry(Request clientToProxyRequest, Response proxyToClientResponse, Callback proxyToClientCallback,
                       Exchange exchange, Upstream next) {
        ClientCloseWatcher watcher = exchange.clientCloseWatcher();
        if (watcher != null) {
            watcher.stop();
            if (watcher.pipelined()) {
                // A byte of the client's next request is gone with this watcher: the connection must still end.
                exchange.pipelined(true);
            }
            exchange.clientCloseWatcher(null);
        }
        silenceWatch.answered(exchange);
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
    protected void onProxyToClientResponseFailure(Request clientToProxyRequest,
                                                  org.eclipse.jetty.client.Request proxyToServerRequest,
                                                  org.eclipse.jetty.client.Response serverToProxyResponse,
                                                  Response proxyToClientResponse, Callback proxyToClientCallback,
                                                  Throwable failure) {
        // The upstream response was complete but its last write to the client failed: the client left.
        exchange(clientToProxyRequest).clientGone(true);
        super.onProxyToClientResponseFailure(clientToProxyRequest, proxyToServerRequest, serverToProxyResponse,
                proxyToClientResponse, proxyToClientCallback, failure);
    }

    /** Copies S2P to P2C chunk by chunk, observing what passes for the exchange record. */
    private final class StreamingListener extends ProxyResponseListener {
        private final Request clientToProxyRequest;
        private final Response proxyToClientResponse;
        private final Exchange exchange;
        /** Non-null when the answer is collected and replaced (see {@link #rewriteResponse}); upstream thread only. */
        private ResponseRewriter rewriter;
        private java.io.ByteArrayOutputStream collected;

        StreamingListener(Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest,
                          Response proxyToClientResponse, Callback proxyToClientCallback) {
            super(clientToProxyRequest, proxyToServerRequest, proxyToClientResponse, proxyToClientCallback);
            this.clientToProxyRequest = clientToProxyRequest;
            this.proxyToClientResponse = proxyToClientResponse;
            this.exchange = exchange(clientToProxyRequest);
        }

        @Override
        public void onBegin(org.eclipse.jetty.client.Response serverToProxyResponse) {
            exchange.upstreamFirstByte();
            // From here on bytes flow to the client and a failed write tells that it left. Watching longer
            // would mistake a client closing right after the last byte for one that left early.
            silenceWatch.answered(exchange);
            ClientCloseWatcher watcher = exchange.clientCloseWatcher();
            if (watcher != null) {
                watcher.stop();
            }
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
            addResponseHeaders(clientToProxyRequest, proxyToClientResponse.getHeaders());
            onServerToProxyHeaders(clientToProxyRequest, serverToProxyResponse, proxyToClientResponse);
            rewriter = rewriteResponse(clientToProxyRequest, serverToProxyResponse);
            if (rewriter != null) {
                proxyToClientResponse.getHeaders().remove(HttpHeader.CONTENT_LENGTH);
                long declared = serverToProxyResponse.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH);
                collected = new java.io.ByteArrayOutputStream((int) Math.max(256, Math.min(declared, 1 << 20)));
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
            int length = content.remaining();
            if (length > 0) {
                exchange.endsWithNewline(content.get(content.limit() - 1) == '\n');
                onServerToProxyContent(clientToProxyRequest, content.asReadOnlyBuffer());
            }
            if (rewriter != null) {
                if (collected.size() + (long) length > rewriter.maxBytes()) {
                    if (!rewriter.passThroughWhenLarger()) {
                        serverToProxyResponse.abort(new java.io.IOException("upstream answer larger than "
                                + rewriter.maxBytes() + " bytes to rewrite"));
                        return;
                    }
                    passThrough(serverToProxyResponse, serverToProxyChunk, serverToProxyDemander);
                    return;
                }
                byte[] copy = new byte[length];
                content.get(copy);
                collected.write(copy, 0, length);
                serverToProxyDemander.run();
                return;
            }
            serverToProxyChunk.retain();
            proxyToClientResponse.write(false, content, new Callback() {
                @Override
                public void succeeded() {
                    serverToProxyChunk.release();
                    // Backpressure: the next upstream chunk is read only once this one is written.
                    serverToProxyDemander.run();
                }

                @Override
                public void failed(Throwable failure) {
                    serverToProxyChunk.release();
                    // The client cannot be written to: it left. Abort upstream so Ollama stops generating.
                    exchange.clientGone(true);
                    serverToProxyResponse.abort(failure);
                }

                @Override
                public InvocationType getInvocationType() {
                    return InvocationType.NON_BLOCKING;
                }
            });
        }

        /** Gives up rewriting: what was collected goes to the client, then this chunk and the rest as they come. */
        private void passThrough(org.eclipse.jetty.client.Response serverToProxyResponse, Content.Chunk chunk,
                                 Runnable demander) {
            long declared = serverToProxyResponse.getHeaders().getLongField(HttpHeader.CONTENT_LENGTH);
            if (declared >= 0) {
                proxyToClientResponse.getHeaders().put(HttpHeader.CONTENT_LENGTH, declared);
            }
            byte[] head = collected.toByteArray();
            rewriter = null;
            collected = null;
            chunk.retain();
            proxyToClientResponse.write(false, ByteBuffer.wrap(head), new Callback() {
                @Override
                public void succeeded() {
                    // This chunk was already shown to onServerToProxyContent: write it as the streaming path would.
                    ByteBuffer content = chunk.getByteBuffer();
                    proxyToClientResponse.write(false, content, Callback.from(() -> {
                        chunk.release();
                        demander.run();
                    }, this::failed));
                }

                @Override
                public void failed(Throwable failure) {
                    chunk.release();
                    exchange.clientGone(true);
                    serverToProxyResponse.abort(failure);
                }

                @Override
                public InvocationType getInvocationType() {
                    return InvocationType.NON_BLOCKING;
                }
            });
        }

        @Override
        public void onSuccess(org.eclipse.jetty.client.Response serverToProxyResponse) {
            exchange.upstreamEnded();
            if (rewriter == null) {
                super.onSuccess(serverToProxyResponse);
                return;
            }
            byte[] replacement;
            try {
                replacement = rewriter.rewrite(collected.toByteArray());
            } catch (Exception | OutOfMemoryError x) {
                if (LOG.isDebugEnabled()) {
                    LOG.debug("{} S2P answer could not be rewritten: {}", requestId(clientToProxyRequest), x.toString());
                }
                ErrorResponses.write(clientToProxyRequest, proxyToClientResponse, this, 502,
                        x.getMessage() == null ? "upstream answer could not be used" : x.getMessage());
                return;
            }
            proxyToClientResponse.getHeaders().put(HttpHeader.CONTENT_LENGTH, replacement.length);
            proxyToClientResponse.write(true, ByteBuffer.wrap(replacement), this);
        }
    }

    /** Completes the client's callback and fires the completion hook, both exactly once. */
    private final class CompletionCallback implements Callback {
        private final Request clientToProxyRequest;
        private final Response proxyToClientResponse;
        private final Callback proxyToClientCallback;
        private final Exchange exchange;
        private final AtomicBoolean completed = new AtomicBoolean();

        CompletionCallback(Request clientToProxyRequest, Response proxyToClientResponse, Callback proxyToClientCallback,
                           Exchange exchange) {
            this.clientToProxyRequest = clientToProxyRequest;
            this.proxyToClientResponse = proxyToClientResponse;
            this.proxyToClientCallback = proxyToClientCallback;
            this.exchange = exchange;
        }

        @Override
        public void succeeded() {
            if (completed.compareAndSet(false, true)) {
                // A response to a client that pipelined carries Connection: close (set when its headers
                // were written), so the connection ends after it and never parses the rest of that request.
                stopWatching();
                proxyToClientCallback.succeeded();
                complete(null);
            }
        }

        @Override
        public void failed(Throwable failure) {
            if (completed.compareAndSet(false, true)) {
                stopWatching();
                proxyToClientCallback.failed(failure);
                complete(failure);
            }
        }

        /** Must run before the client's callback completes, when the connection reads its next request. */
        private ClientCloseWatcher stopWatching() {
            silenceWatch.answered(exchange);
            ClientCloseWatcher watcher = exchange.clientCloseWatcher();
            if (watcher != null) {
                watcher.stop();
            }
            return watcher;
        }

        private void complete(Throwable failure) {
            if (failure != null) {
                exchange.failed(failure, exchange.clientGone() ? Exchange.Outcome.CLIENT_CLOSED : outcomeOf(failure));
            }
            // 499 only when the client's leaving cut the exchange short; a client closing its connection
            // right after a complete response is a normal end.
            int status = failure != null && exchange.clientGone()
                    ? Exchange.CLIENT_CLOSED_REQUEST : proxyToClientResponse.getStatus();
            exchange.ended(status, Response.getContentBytesWritten(proxyToClientResponse));
            try {
                onExchangeComplete(clientToProxyRequest, exchange);
            } catch (RuntimeException x) {
                LOG.warn("completion hook failed", x);
            }
        }

        @Override
        public InvocationType getInvocationType() {
            return proxyToClientCallback.getInvocationType();
        }
    }

    /**
     * The client's request body as the upstream request reads it: failed with {@link BodyTooLargeException}
     * once it grows past the limit, and never failing the client's request when the upstream side fails
     * (Jetty's default would, and a failed client request reads as the client having gone away).
     */
    private static final class ClientRequestContent implements org.eclipse.jetty.client.Request.Content {
        private final org.eclipse.jetty.client.Request.Content delegate;
        private final long limit;
        private long received;

        ClientRequestContent(org.eclipse.jetty.client.Request.Content delegate, long limit) {
            this.delegate = delegate;
            this.limit = limit;
        }

        @Override
        public Content.Chunk read() {
            Content.Chunk chunk = delegate.read();
            if (chunk == null) {
                return null;
            }
            if (Content.Chunk.isFailure(chunk)) {
                // The client's side failed (it stalled or left mid-body): not the upstream's fault.
                return Content.Chunk.from(new ClientBodyException(chunk.getFailure()), chunk.isLast());
            }
            received += chunk.remaining();
            if (received > limit) {
                chunk.release();
                // The client request itself is not failed: that would read as the client going away.
                return Content.Chunk.from(new BodyTooLargeException(limit), true);
            }
            return chunk;
        }

        @Override
        public void demand(Runnable demandCallback) {
            delegate.demand(demandCallback);
        }

        @Override
        public void fail(Throwable failure) {
            // The upstream exchange failed; the client's request stays healthy so its response can be written.
        }

        @Override
        public long getLength() {
            return delegate.getLength();
        }

        @Override
        public String getContentType() {
            return delegate.getContentType();
        }

        @Override
        public boolean rewind() {
            return false;
        }
    }
}
