package dev.oqp.common.config;

import java.time.Duration;
import java.util.Objects;

/**
 * Sidecar-only settings ({@code sidecar:}); validated by both binaries, used by the sidecar.
 *
 * @param metricsPort        port of the sidecar's Prometheus endpoint; default 0 = off; else 1024-65535, unique in the file
 * @param metricsBind        IP literal or {@code localhost}; default {@code 127.0.0.1}
 * @param metricsAllowPublic must be true for a non-loopback {@code metricsBind}; default false
 * @param drainTimeout       on SIGTERM, how long in-flight requests may finish; default 30s; always positive
 */
public record SidecarConfig(int metricsPort, String metricsBind, boolean metricsAllowPublic, Duration drainTimeout) {

    public static final SidecarConfig DEFAULT = new SidecarConfig(0, "127.0.0.1", false, Duration.ofSeconds(30));

    public SidecarConfig {
        if (metricsPort != 0) {
            Checks.range("metricsPort", metricsPort, 1024, 65535);
        }
        Objects.requireNonNull(metricsBind, "metricsBind");
        Checks.positive("drainTimeout", drainTimeout);
    }
}
