package dev.oqp.queue.server;

import java.util.TreeSet;

import dev.oqp.common.log.AccessLine;
import dev.oqp.queue.limits.Limiter;
import dev.oqp.queue.metrics.QueueMetrics;

/**
 * The last step of every request, whichever part answered it, reached only through {@link Call#complete}:
 * tokens pre-paid for a request that never cost a host anything are refunded, {@code oqp_client_requests_total}
 * is counted and one access-log line written (when {@code logging.access_log} of the request's settings says
 * so). The line never holds a header value, a key or a prompt: request id, client id, client address, method,
 * path, status, tier, model, host, times.
 */
final class Ledger {
    private final QueueMetrics metrics;
    private final Limiter rates;

    Ledger(QueueMetrics metrics, Limiter rates) {
        this.metrics = metrics;
        this.rates = rates;
    }

    /**
     * Records one answered request.
     *
     * @param error      a short lower-case outcome when the request did not end normally, else null
     * @param upstreamMs time spent upstream, or -1 when it never went there
     */
    void record(Call call, int status, long bytes, String error, double upstreamMs) {
        long reserved = call.reservedTokens.getAndSet(0);
        if (reserved > 0) {
            // Answered without a host's count (refused, from the cache, left while queued): nothing was spent.
            rates.settle(call.client.clientId(), call.client.limits(), reserved, 0, false);
        }
        metrics.clientRequest(call.clientLabel(), status);
        if (!call.settings.config().logging().accessLog()) {
            return;
        }
        AccessLine line = AccessLine.start()
                .add("request_id", call.requestId)
                .add("port", call.port.name())
                .add("client", call.clientLabel())
                .add("remote", call.clientAddress)
                .clientText("method", call.request.getMethod())
                .clientText("path", call.request.getHttpURI().getPath())
                .add("status", status)
                .add("bytes", bytes)
                .millis("total_ms", (System.nanoTime() - call.startNanos) / 1e6);
        if (call.tier != null) {
            line.add("tier", call.tier.yamlName());
        }
        if (call.waitedNanos >= 0) {
            line.millis("wait_ms", call.waitedNanos / 1e6);
        }
        line.clientText("model", call.model);
        if (call.cache != null) {
            line.add("cache", call.cache.status().name());
        }
        if (call.host() != null) {
            line.add("host", call.host().name());
            if (call.attempts > 1 || call.failoverExhausted) {
                line.add("attempts", call.attempts);
                if (call.tried != null) {
                    line.add("failed_hosts", String.join(",", new TreeSet<>(call.tried)));
                }
            }
        }
        if (upstreamMs >= 0) {
            line.millis("upstream_ms", upstreamMs);
        }
        line.error(error).log();
    }
}
