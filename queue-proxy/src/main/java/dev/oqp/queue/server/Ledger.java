package dev.oqp.queue.server;

import java.util.Locale;

import dev.oqp.common.log.Logging;
import dev.oqp.queue.metrics.QueueMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last step of every request, whichever part answered it (the gate, an own endpoint, the forwarder):
 * {@code oqp_client_requests_total} and one access-log line. The line never holds a header value, a key or
 * a prompt: request id, client id, client address, method, path, status, tier, model, host, times.
 */
final class Ledger {
    private static final Logger ACCESS = LoggerFactory.getLogger(Logging.ACCESS_LOGGER);

    private final QueueMetrics metrics;
    private volatile boolean accessLog;

    /** A reload: {@code logging.access_log} from now on. */
    void accessLog(boolean on) {
        this.accessLog = on;
    }

    Ledger(QueueMetrics metrics, boolean accessLog) {
        this.metrics = metrics;
        this.accessLog = accessLog;
    }

    /**
     * Records one answered request.
     *
     * @param error       a short lower-case outcome when the request did not end normally, else null
     * @param upstreamMs  time spent upstream, or -1 when it never went there
     */
    void record(Call call, String method, String path, int status, long bytes, String error, double upstreamMs) {
        metrics.clientRequest(call.clientLabel(), status);
        if (!accessLog) {
            return;
        }
        var line = ACCESS.atInfo()
                .addKeyValue("request_id", call.requestId)
                .addKeyValue("port", call.port.name())
                .addKeyValue("client", call.clientLabel())
                .addKeyValue("remote", call.clientAddress)
                .addKeyValue("method", method)
                .addKeyValue("path", path)
                .addKeyValue("status", status)
                .addKeyValue("bytes", bytes)
                .addKeyValue("total_ms", round((System.nanoTime() - call.startNanos) / 1e6));
        if (call.tier != null) {
            line = line.addKeyValue("tier", call.tier.yamlName());
        }
        if (call.waitedNanos >= 0) {
            line = line.addKeyValue("wait_ms", round(call.waitedNanos / 1e6));
        }
        if (call.model != null) {
            line = line.addKeyValue("model", call.model);
        }
        if (call.cache != null) {
            line = line.addKeyValue("cache", call.cache.status().name());
        }
        if (call.host != null) {
            line = line.addKeyValue("host", call.host.name());
            if (call.attempts > 1 || call.failoverExhausted) {
                line = line.addKeyValue("attempts", call.attempts);
                if (call.tried != null) {
                    line = line.addKeyValue("failed_hosts", String.join(",", new java.util.TreeSet<>(call.tried)));
                }
            }
        }
        if (upstreamMs >= 0) {
            line = line.addKeyValue("upstream_ms", round(upstreamMs));
        }
        if (error != null) {
            line = line.addKeyValue("error", error.toLowerCase(Locale.ROOT));
        }
        line.log("request");
    }

    private static double round(double millis) {
        return millis < 0 ? -1 : Math.round(millis * 100.0) / 100.0;
    }
}
