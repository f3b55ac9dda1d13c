package dev.oqp.sidecar;

import dev.oqp.common.server.BadRequests;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/**
 * Every metric of the sidecar, declared once. Labels come only from configuration (service names)
 * and from the status codes the sidecar itself answers.
 */
final class SidecarMetrics {
    final PrometheusRegistry registry = new PrometheusRegistry();
    final Counter requests = Counter.builder()
            .name("oqp_sidecar_requests_total")
            .help("Requests proxied, by service and response status (499: client went away first)")
            .labelNames("service", "status")
            .register(registry);
    final Histogram upstreamSeconds = Histogram.builder()
            .name("oqp_sidecar_upstream_seconds")
            .help("Time from sending a request upstream to the end of the upstream response")
            .labelNames("service")
            .classicUpperBounds(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
            .register(registry);
    final Counter badRequests = Counter.builder()
            .name("oqp_sidecar_bad_requests_total")
            .help("Requests Jetty refused as malformed before any service saw them, by reason: " + BadRequests.REASONS)
            .labelNames("reason")
            .register(registry);

    /** Counts one request Jetty refused as malformed (a reason from a fixed set). */
    void badRequest(String reason) {
        badRequests.labelValues(reason).inc();
    }
}
