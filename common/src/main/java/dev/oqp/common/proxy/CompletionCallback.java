package dev.oqp.common.proxy;

import java.util.concurrent.atomic.AtomicBoolean;

import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The callback every path of an exchange ends through: fires {@link ProxyBase#onExchangeComplete} with the
 * exchange's record, then completes the client's callback, both exactly once, whichever of success, upstream
 * failure, client gone or refusal comes first.
 */
final class CompletionCallback implements Callback {
    private static final Logger LOG = LoggerFactory.getLogger(ProxyBase.class);

    private final ProxyBase proxy;
    private final SilenceWatch silenceWatch;
    private final Request clientToProxyRequest;
    private final Response proxyToClientResponse;
    private final Callback proxyToClientCallback;
    private final Exchange exchange;
    private final AtomicBoolean completed = new AtomicBoolean();

    CompletionCallback(ProxyBase proxy, SilenceWatch silenceWatch, Request clientToProxyRequest,
                       Response proxyToClientResponse, Callback proxyToClientCallback, Exchange exchange) {
        this.proxy = proxy;
        this.silenceWatch = silenceWatch;
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
            silenceWatch.done(exchange);
            // The hook runs before the client's callback completes: only then does the connection read the
            // client's next request, which must find this one settled (its slots back, its tokens counted).
            complete(null);
            proxyToClientCallback.succeeded();
        }
    }

    @Override
    public void failed(Throwable failure) {
        if (completed.compareAndSet(false, true)) {
            silenceWatch.done(exchange);
            complete(failure);
            proxyToClientCallback.failed(failure);
        }
    }

    private void complete(Throwable failure) {
        if (failure != null) {
            exchange.failed(failure, exchange.clientGone() ? Exchange.Outcome.CLIENT_CLOSED : ProxyErrors.outcomeOf(failure));
        }
        // 499 only when the client's leaving cut the exchange short; a client closing its connection
        // right after a complete response is a normal end.
        int status = failure != null && exchange.clientGone() ? Exchange.CLIENT_CLOSED_REQUEST
                : exchange.inBandStatus() != 0 ? exchange.inBandStatus() : proxyToClientResponse.getStatus();
        exchange.ended(status, Response.getContentBytesWritten(proxyToClientResponse));
        try {
            proxy.onExchangeComplete(clientToProxyRequest, exchange);
        } catch (RuntimeException x) {
            LOG.warn("completion hook failed", x);
        }
    }

    @Override
    public InvocationType getInvocationType() {
        return proxyToClientCallback.getInvocationType();
    }
}
