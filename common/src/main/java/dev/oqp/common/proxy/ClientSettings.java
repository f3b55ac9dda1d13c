package dev.oqp.common.proxy;

import java.security.KeyStore;
import java.time.Duration;
import java.util.Objects;

/**
 * How {@link ProxyBase} builds its upstream {@code HttpClient}.
 *
 * <p>Jetty's {@code HttpClient} keeps a queue per destination (1,024 requests by default) behind a
 * connection limit (64 by default). A proxy must not let that become a hidden second queue: the
 * sidecar sizes both far above any plausible client concurrency (Ollama queues, not us), and the
 * queue proxy sizes the connection limit to its slots, so its own priority queue is the only one.
 *
 * @param connectTimeout               TCP (and TLS) connect budget per connection attempt
 * @param maxConnectionsPerDestination connections open at once to one upstream
 * @param maxQueuedPerDestination      requests waiting for a connection to one upstream
 * @param tls                          whether any upstream of this client is https; without it no TLS
 *                                     context is built (it costs a noticeable part of start-up)
 * @param trustStore                   certificates trusted for https upstreams; null = the JVM's CAs
 */
public record ClientSettings(Duration connectTimeout, int maxConnectionsPerDestination,
                             int maxQueuedPerDestination, boolean tls, KeyStore trustStore) {
    public ClientSettings {
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        if (connectTimeout.isZero() || connectTimeout.isNegative()) {
            throw new IllegalArgumentException("connectTimeout: " + connectTimeout + " (expected: > 0)");
        }
        if (maxConnectionsPerDestination < 1) {
            throw new IllegalArgumentException("maxConnectionsPerDestination: " + maxConnectionsPerDestination
                    + " (expected: >= 1)");
        }
        if (maxQueuedPerDestination < 1) {
            throw new IllegalArgumentException("maxQueuedPerDestination: " + maxQueuedPerDestination
                    + " (expected: >= 1)");
        }
    }
}
