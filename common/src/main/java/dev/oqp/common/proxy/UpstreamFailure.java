package dev.oqp.common.proxy;

import java.nio.ByteBuffer;
import java.util.Locale;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An upstream exchange that failed: whether another upstream may be tried, and else how the client is answered,
 * respecting whether its response has started (after the first byte no error page is ever written).
 */
final class UpstreamFailure {
    private static final Logger LOG = LoggerFactory.getLogger(ProxyBase.class);

    private UpstreamFailure() {
    }

    /**
     * A failure another host may be spared: the upstream was unreachable, or it closed the connection before
     * any byte of its answer; nothing was sent to the client and it is still there; not shutting down; and
     * the request can be sent again as it was (a buffered body, or none).
     */
    static boolean mayFailOver(boolean stopping, Request clientToProxyRequest, Response proxyToClientResponse,
                               Exchange exchange, Throwable failure) {
        // A response committed early (the queue proxy's early headers) holds nothing of the upstream's yet.
        if (proxyToClientResponse.isCommitted() && !exchange.committedEarly() || exchange.clientGone() || exchange.outcome() == Exchange.Outcome.SHUTDOWN
                || stopping) {
            return false;
        }
        Exchange.Outcome outcome = ProxyErrors.outcomeOf(failure);
        if (outcome != Exchange.Outcome.UPSTREAM_CONNECT
                && (outcome != Exchange.Outcome.UPSTREAM_BROKEN || exchange.answered())) {
            return false;
        }
        long declared = clientToProxyRequest.getLength();
        return exchange.requestBody().isBuffered() || declared == 0
                || declared < 0 && !clientToProxyRequest.getHeaders().contains(HttpHeader.TRANSFER_ENCODING);
    }

    /**
     * Ends the client's response for a failure no other upstream will be tried for: nothing for a client that
     * left, an error in the client's API shape while the response has not started, a final {@code {"error":"…"}}
     * line for an NDJSON stream, a final {@code event: error} for an SSE stream whose end is the connection's close,
     * and an abort (a truncated body, or a missing final chunk) for any other started response.
     */
    static void answer(ProxyBase proxy, Request clientToProxyRequest, Response proxyToClientResponse,
                       Callback proxyToClientCallback, Exchange exchange, Throwable failure) {
        exchange.upstreamEnded();
        Exchange.Outcome outcome = exchange.clientGone() ? Exchange.Outcome.CLIENT_CLOSED
                : exchange.outcome() == Exchange.Outcome.SHUTDOWN ? Exchange.Outcome.SHUTDOWN : ProxyErrors.outcomeOf(failure);
        if (outcome == Exchange.Outcome.CLIENT_CLOSED) {
            exchange.clientGone(true);
        }
        boolean committed = proxyToClientResponse.isCommitted();
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} S2P failed ({}), P2C committed={}: {}", ProxyBase.idOf(clientToProxyRequest), outcome,
                    committed, failure.toString());
        }
        if (outcome == Exchange.Outcome.CLIENT_BODY_INVALID && !committed) {
            // Recorded once the answer is written or not: a client that reset its connection reads as one whose
            // body ended early, and only the failed write tells that it left.
            answerInvalidBody(proxy, clientToProxyRequest, proxyToClientResponse, proxyToClientCallback, exchange,
                    failure);
            return;
        }
        exchange.failed(failure, outcome);
        if (outcome == Exchange.Outcome.CLIENT_CLOSED) {
            if (!committed) {
                // Nobody to answer: close rather than let Jetty write its HTML error page.
                clientToProxyRequest.getConnectionMetaData().getConnection().getEndPoint().close(failure);
            }
            proxyToClientCallback.failed(withoutErrorPage(failure));
        } else if (outcome == Exchange.Outcome.SHUTDOWN && committed && !exchange.committedEarly()) {
            proxyToClientCallback.failed(failure);
        } else if (!committed) {
            proxyToClientResponse.reset();
            ClientCloseWatcher watcher = exchange.clientCloseWatcher();
            if (outcome == Exchange.Outcome.SHUTDOWN || (watcher != null && watcher.pipelined() || exchange.pipelined())) {
                proxyToClientResponse.getHeaders().put(HttpHeader.CONNECTION, "close");
            }
            int status = outcome == Exchange.Outcome.SHUTDOWN ? 503 : ProxyErrors.statusFor(failure);
            String message = outcome == Exchange.Outcome.SHUTDOWN ? "server shutting down"
                    : ProxyErrors.messageFor(outcome, failure);
            proxy.addResponseHeaders(clientToProxyRequest, proxyToClientResponse.getHeaders());
            ErrorResponses.write(clientToProxyRequest, proxyToClientResponse, proxyToClientCallback, status, message);
        } else if (exchange.committedEarly()) {
            // The client has had its 200 since before the upstream answered: the error is the stream's last frame.
            int status = outcome == Exchange.Outcome.SHUTDOWN ? 503 : ProxyErrors.statusFor(failure);
            String message = outcome == Exchange.Outcome.SHUTDOWN ? "server shutting down"
                    : ProxyErrors.messageFor(outcome, failure);
            proxyToClientResponse.write(true, InBandErrors.frame(clientToProxyRequest, proxyToClientResponse, exchange,
                    status, message, outcome.name().toLowerCase(Locale.ROOT)), proxyToClientCallback);
        } else if (exchange.ndjson()) {
            byte[] line = ErrorResponses.ndjsonErrorLine(ProxyErrors.messageFor(outcome, failure));
            ByteBuffer tail;
            if (exchange.endsWithNewline()) {
                tail = ByteBuffer.wrap(line);
            } else {
                // The upstream broke mid-line: end that line so the error is a line of its own.
                tail = ByteBuffer.allocate(line.length + 1).put((byte) '\n').put(line).flip();
            }
            proxyToClientResponse.write(true, tail, proxyToClientCallback);
        } else if (exchange.eventStream() && closeDelimited(clientToProxyRequest, proxyToClientResponse)) {
            // Without chunked framing an abort is a close, and a close ends such a stream as if complete (its
            // clients treat [DONE] as optional): an error event says it was cut.
            byte[] event = ErrorResponses.sseErrorEvent(ProxyErrors.statusFor(failure),
                    ProxyErrors.messageFor(outcome, failure));
            // The upstream broke mid-line or mid-event: end those, so the error is an event of its own.
            int missing = exchange.endsWithBlankLine() ? 0 : exchange.endsWithNewline() ? 1 : 2;
            ByteBuffer tail = ByteBuffer.allocate(missing + event.length);
            for (int i = 0; i < missing; i++) {
                tail.put((byte) '\n');
            }
            proxyToClientResponse.write(true, tail.put(event).flip(), proxyToClientCallback);
        } else {
            // No error page after the first byte: abort, so the client sees a truncated response.
            proxyToClientCallback.failed(failure);
        }
    }

    /**
     * The client's body ended early or broke its framing before any answer: 400, and the connection closes after it
     * (the rest of the body cannot be told from a next request). When that cannot be written the client is gone.
     */
    private static void answerInvalidBody(ProxyBase proxy, Request clientToProxyRequest, Response proxyToClientResponse,
                                          Callback proxyToClientCallback, Exchange exchange, Throwable failure) {
        proxyToClientResponse.reset();
        proxyToClientResponse.getHeaders().put(HttpHeader.CONNECTION, "close");
        proxy.addResponseHeaders(clientToProxyRequest, proxyToClientResponse.getHeaders());
        ErrorResponses.write(clientToProxyRequest, proxyToClientResponse, new Callback() {
            @Override
            public void succeeded() {
                exchange.failed(failure, Exchange.Outcome.CLIENT_BODY_INVALID);
                proxyToClientCallback.succeeded();
            }

            @Override
            public void failed(Throwable notWritten) {
                exchange.clientGone(true);
                exchange.failed(failure, Exchange.Outcome.CLIENT_CLOSED);
                proxyToClientCallback.failed(withoutErrorPage(failure));
            }

            @Override
            public InvocationType getInvocationType() {
                return InvocationType.NON_BLOCKING;
            }
        }, 400, ProxyErrors.messageFor(Exchange.Outcome.CLIENT_BODY_INVALID, failure));
    }

    /**
     * True when the response's end is the connection's close: no {@code Content-Length} and a client that cannot be
     * sent chunked framing (HTTP/1.0) or a connection that closes after this response.
     */
    private static boolean closeDelimited(Request clientToProxyRequest, Response proxyToClientResponse) {
        if (proxyToClientResponse.getHeaders().contains(HttpHeader.CONTENT_LENGTH)) {
            return false;
        }
        HttpVersion version = clientToProxyRequest.getConnectionMetaData().getHttpVersion();
        return version == HttpVersion.HTTP_1_0 || version == HttpVersion.HTTP_1_1
                && (clientToProxyRequest.getHeaders().contains(HttpHeader.CONNECTION, "close")
                || proxyToClientResponse.getHeaders().contains(HttpHeader.CONNECTION, "close"));
    }

    /**
     * {@code failure} marked so that Jetty ends the response without its error page: failing an uncommitted
     * response otherwise makes Jetty try a 500 page and log it at WARN with a stack trace and the full request URI,
     * query string included, for a client that is not there to read it.
     */
    static Throwable withoutErrorPage(Throwable failure) {
        return new Request.Handler.AbortException("client gone", failure);
    }
}
