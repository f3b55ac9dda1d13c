package dev.oqp.queue.server;

import java.nio.ByteBuffer;
import java.util.Map;

import dev.oqp.common.proxy.ClientSettings;
import dev.oqp.common.proxy.Exchange;
import dev.oqp.common.proxy.ProxyBase;
import dev.oqp.common.proxy.Upstream;
import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.metrics.UsageScanner;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;

/**
 * Pipeline steps 10 and 11 on the proxy base: sends a request the gate has admitted to the host it chose,
 * streaming, and settles it exactly once when it completes: the slots go back, the host, queue and token
 * metrics are counted and the access line is written. Everything it needs is on the request's {@link Call}.
 *
 * <p>Upstream requests never carry the client's {@code Authorization} (the key is the proxy's business, not
 * Ollama's), nor {@code X-Queue-Priority} or {@code X-Ollama-Host}; they carry the host's configured
 * headers, {@code X-Client-ID} and {@code X-Request-ID}.
 */
final class Forwarder extends ProxyBase {
    static final String X_REQUEST_ID = "X-Request-ID";
    static final String X_CLIENT_ID = "X-Client-ID";
    static final String X_QUEUE_PRIORITY = "X-Queue-Priority";
    static final String X_QUEUE_WAIT_TIME = "X-Queue-Wait-Time";
    static final String X_UPSTREAM_HOST = "X-Upstream-Host";
    static final String X_OLLAMA_HOST = "X-Ollama-Host";
    private static final String[] SPOOFABLE = {"X-Real-IP", "X-Forwarded-Port", "X-Forwarded-Prefix",
        "X-Forwarded-Server", "X-Client-Name"};

    private final QueueMetrics metrics;
    private final Ledger ledger;

    Forwarder(ClientSettings settings, QueueMetrics metrics, Ledger ledger) {
        super(settings);
        this.metrics = metrics;
        this.ledger = ledger;
    }

    @Override
    protected Upstream chooseUpstream(Request clientToProxyRequest) {
        return Call.of(clientToProxyRequest).upstream;
    }

    @Override
    protected long maxRequestBytes(Request clientToProxyRequest) {
        return Call.of(clientToProxyRequest).maxBody;
    }

    @Override
    protected byte[] bufferedRequestBody(Request clientToProxyRequest) {
        return Call.of(clientToProxyRequest).body;
    }

    @Override
    protected void injectHeaders(Request clientToProxyRequest, HttpFields.Mutable proxyToServerHeaders) {
        Call call = Call.of(clientToProxyRequest);
        proxyToServerHeaders.remove(HttpHeader.AUTHORIZATION);
        proxyToServerHeaders.remove(X_QUEUE_PRIORITY);
        proxyToServerHeaders.remove(X_OLLAMA_HOST);
        // What a client claims about itself or earlier hops is not passed on (the proxy base sets
        // X-Forwarded-For/Proto/Host from what it saw).
        for (String spoofable : SPOOFABLE) {
            proxyToServerHeaders.remove(spoofable);
        }
        for (Map.Entry<String, String> header : call.host.headers().entrySet()) {
            proxyToServerHeaders.put(header.getKey(), header.getValue());
        }
        proxyToServerHeaders.put(X_CLIENT_ID, call.clientLabel());
        proxyToServerHeaders.put(X_REQUEST_ID, call.requestId);
    }

    @Override
    protected void addResponseHeaders(Request clientToProxyRequest, HttpFields.Mutable proxyToClientHeaders) {
        Call call = Call.of(clientToProxyRequest);
        proxyToClientHeaders.put(X_REQUEST_ID, call.requestId);
        if (call.host != null) {
            proxyToClientHeaders.put(X_UPSTREAM_HOST, call.host.name());
        }
        if (call.tier != null) {
            proxyToClientHeaders.put(X_QUEUE_PRIORITY, call.tier.yamlName());
        }
        if (call.waitedNanos >= 0) {
            proxyToClientHeaders.put(X_QUEUE_WAIT_TIME, Long.toString(call.waitedNanos / 1_000_000));
        }
        if (call.pipelined) {
            proxyToClientHeaders.put(HttpHeader.CONNECTION, "close");
        }
    }

    @Override
    protected void onServerToProxyHeaders(Request clientToProxyRequest,
                                          org.eclipse.jetty.client.Response serverToProxyResponse,
                                          Response proxyToClientResponse) {
        Call call = Call.of(clientToProxyRequest);
        if (call.route.kind() == Route.Kind.INFERENCE && serverToProxyResponse.getStatus() == 200) {
            call.usage = new UsageScanner(serverToProxyResponse.getHeaders().get(HttpHeader.CONTENT_TYPE));
        }
    }

    @Override
    protected void onServerToProxyContent(Request clientToProxyRequest, ByteBuffer serverToProxyContent) {
        UsageScanner usage = Call.of(clientToProxyRequest).usage;
        if (usage != null) {
            usage.accept(serverToProxyContent);
        }
    }

    @Override
    protected void onExchangeComplete(Request clientToProxyRequest, Exchange exchange) {
        Call call = Call.of(clientToProxyRequest);
        // First, whatever else happens: the slots go back and the next queued request may start.
        if (call.lease != null) {
            call.lease.release();
        }
        QueueMetrics.HostSeries host = metrics.host(call.host.name());
        host.requests().inc();
        double upstreamSeconds = exchange.upstreamSeconds();
        if (upstreamSeconds >= 0) {
            host.upstream().observe(upstreamSeconds);
        }
        double firstByte = exchange.timeToFirstByteSeconds();
        if (firstByte >= 0) {
            host.firstByte().observe(firstByte);
        }
        switch (exchange.outcome()) {
            case UPSTREAM_CONNECT, UPSTREAM_TIMEOUT, UPSTREAM_BROKEN -> host.failures().inc();
            default -> {
            }
        }
        if (call.tier != null) {
            metrics.tier(call.tier).processed().inc();
        }
        if (call.usage != null) {
            metrics.addTokens(call.clientLabel(), call.model, call.usage.promptTokens(), call.usage.completionTokens());
        }
        ledger.record(call, exchange.method(), exchange.path(), exchange.status(), exchange.bytesToClient(),
                exchange.outcome() == Exchange.Outcome.NONE ? null : exchange.outcome().name(), exchange.upstreamMillis());
    }
}
