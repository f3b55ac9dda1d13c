package dev.oqp.common.proxy;

import java.util.function.Consumer;

import org.eclipse.jetty.server.Request;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What happens when a client goes away mid-exchange (its request failed, or its connection closed while the
 * upstream was silent): the upstream request is aborted at once, since the client leaving is Ollama's only cancel
 * signal, unless {@link ProxyBase#holdUntilFirstByte} keeps it until the upstream's first byte. When the server is
 * stopping, it is not the client that left but the drain timeout that ran out.
 */
final class ClientGone implements Consumer<Throwable> {
    private static final Logger LOG = LoggerFactory.getLogger(ProxyBase.class);

    private final ProxyBase proxy;
    private final Request clientToProxyRequest;
    private final org.eclipse.jetty.client.Request proxyToServerRequest;
    private final Exchange exchange;

    /**
     * Registers what happens when the client of this exchange goes away: its request failing, or its connection
     * closing while the upstream is silent.
     */
    static void register(ProxyBase proxy, SilenceWatch silenceWatch, Request clientToProxyRequest,
                         org.eclipse.jetty.client.Request proxyToServerRequest, Exchange exchange) {
        ClientGone clientGone = new ClientGone(proxy, clientToProxyRequest, proxyToServerRequest, exchange);
        clientToProxyRequest.addFailureListener(clientGone);
        ClientCloseWatcher watcher = ClientCloseWatcher.of(clientToProxyRequest, clientGone);
        if (watcher != null) {
            exchange.clientCloseWatcher(watcher);
            // Watched only once the body is sent and only if the upstream then stays silent a while.
            proxyToServerRequest.onRequestSuccess(sent -> silenceWatch.awaiting(exchange));
        }
    }

    private ClientGone(ProxyBase proxy, Request clientToProxyRequest, org.eclipse.jetty.client.Request proxyToServerRequest,
                       Exchange exchange) {
        this.proxy = proxy;
        this.clientToProxyRequest = clientToProxyRequest;
        this.proxyToServerRequest = proxyToServerRequest;
        this.exchange = exchange;
    }

    @Override
    public void accept(Throwable failure) {
        if (proxy.getServer().isStopping()) {
            exchange.failed(failure, Exchange.Outcome.SHUTDOWN);
        } else {
            exchange.clientGone(true);
            if (!exchange.answered() && proxy.holdUntilFirstByte(clientToProxyRequest)) {
                // Aborted when the first byte comes; unless it came meanwhile (then at once, below).
                exchange.abortOnAnswer(() -> proxyToServerRequest.abort(failure));
                if (!exchange.answered()) {
                    if (LOG.isDebugEnabled()) {
                        LOG.debug("{} C2P client gone, P2S kept until its first byte", ProxyBase.idOf(clientToProxyRequest));
                    }
                    return;
                }
            }
        }
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} C2P client gone, aborting P2S: {}", ProxyBase.idOf(clientToProxyRequest), failure.toString());
        }
        proxyToServerRequest.abort(failure);
    }
}
