package dev.oqp.sidecar;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import dev.oqp.common.config.ServiceConfig;
import dev.oqp.common.log.AccessLine;
import dev.oqp.common.proxy.ClientSettings;
import dev.oqp.common.proxy.Exchange;
import dev.oqp.common.proxy.ProxyBase;
import dev.oqp.common.proxy.RequestBody;
import dev.oqp.common.proxy.TrustStores;
import dev.oqp.common.proxy.Upstream;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.server.Request;

/**
 * The proxy of one sidecar service (one listen port): every request goes to the service's upstream with
 * the service's headers put in place of the client's same-named ones, plus {@code X-Client-Name}.
 */
final class ServiceProxy extends ProxyBase {
    /**
     * The sidecar does not queue: Ollama does. Connections to the upstream are therefore not limited
     * below what clients can open, so Jetty's per-destination queue never fills in practice.
     */
    private static final int MAX_CONNECTIONS = 4096;

    private final ServiceConfig service;
    private final Upstream upstream;
    private final SidecarMetrics metrics;
    private final boolean accessLog;
    /** The series of this service, looked up once rather than per request. */
    private final Map<Integer, CounterDataPoint> requestsByStatus = new ConcurrentHashMap<>();
    private final DistributionDataPoint upstreamTime;

    ServiceProxy(ServiceConfig service, SidecarMetrics metrics, boolean accessLog) throws IOException {
        super(new ClientSettings(service.connectTimeout(), MAX_CONNECTIONS, MAX_CONNECTIONS,
                "https".equals(service.upstream().getScheme()),
                service.caFile() == null ? null : TrustStores.fromPem(service.caFile())));
        this.service = service;
        this.upstream = new Upstream(service.name(), service.upstream(), service.timeout());
        this.metrics = metrics;
        this.accessLog = accessLog;
        this.upstreamTime = metrics.upstreamSeconds.labelValues(service.name());
    }

    @Override
    protected Upstream chooseUpstream(Request clientToProxyRequest) {
        return upstream;
    }

    @Override
    protected RequestBody requestBody(Request clientToProxyRequest) {
        return RequestBody.streamed(service.maxBody());
    }

    @Override
    protected void injectHeaders(Request clientToProxyRequest, HttpFields.Mutable proxyToServerHeaders) {
        for (Map.Entry<String, String> header : service.headers().entrySet()) {
            proxyToServerHeaders.put(header.getKey(), header.getValue());
        }
        proxyToServerHeaders.put("X-Client-Name", service.name());
    }

    @Override
    protected void onExchangeComplete(Request clientToProxyRequest, Exchange exchange) {
        requestsByStatus.computeIfAbsent(exchange.status(),
                status -> metrics.requests.labelValues(service.name(), Integer.toString(status))).inc();
        double upstreamSeconds = exchange.upstreamSeconds();
        if (upstreamSeconds >= 0) {
            upstreamTime.observe(upstreamSeconds);
        }
        if (accessLog) {
            AccessLine.start()
                    .add("service", service.name())
                    .clientText("method", exchange.method())
                    .clientText("path", exchange.path())
                    .add("status", exchange.status())
                    .add("bytes", exchange.bytesToClient())
                    .millis("total_ms", exchange.totalMillis())
                    .millis("upstream_ms", exchange.upstreamMillis())
                    .error(exchange.outcome() == Exchange.Outcome.NONE ? null : exchange.outcome().name())
                    .log();
        }
    }
}
