package dev.oqp.common.config;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Webhooks of the queue proxy ({@code webhooks:}): events POSTed as JSON to one or more endpoints, off the
 * request path. {@link #toString()} never shows a secret.
 *
 * @param endpoints    where events go, each with its own event list; default none (webhooks off)
 * @param secret       HMAC-SHA256 key signing every delivery (an endpoint may set its own); default none = unsigned
 * @param allowedHosts host names exempt from the private-address (SSRF) check, lower case; default none
 * @param queueSize    deliveries waiting to be sent, all endpoints together; a full queue drops (counted); default 1000
 * @param timeout      connect and response timeout of one delivery attempt; default 5s
 * @param retries      further attempts after a 5xx answer or a connect failure, with backoff; default 3
 */
public record WebhooksConfig(List<Endpoint> endpoints, String secret, List<String> allowedHosts, int queueSize,
        Duration timeout, int retries) {

    /** The Python ollama-queue-proxy's events, then oqp's own. */
    public static final List<String> EVENTS = List.of("queue.full", "queue.high_watermark", "queue.drained",
            "queue.over_capacity", "host.unhealthy", "host.recovered", "config.reloaded", "config.reload_failed",
            "client.rate_limited");
    /** An endpoint's events when it lists none: the Python tool's default list. */
    public static final List<String> DEFAULT_EVENTS = List.of("queue.full", "queue.high_watermark", "queue.drained",
            "host.unhealthy", "host.recovered");
    public static final int DEFAULT_QUEUE_SIZE = 1000;
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);
    public static final int DEFAULT_RETRIES = 3;
    /** No endpoints: nothing is sent. */
    public static final WebhooksConfig NONE = new WebhooksConfig(List.of(), null, List.of(), DEFAULT_QUEUE_SIZE,
            DEFAULT_TIMEOUT, DEFAULT_RETRIES);

    /**
     * One receiver.
     *
     * @param url    http or https URL the events are POSTed to
     * @param events the event names sent there (of {@link #EVENTS}); default {@link #DEFAULT_EVENTS}
     * @param secret this endpoint's signing key; {@code null}: the section's
     */
    public record Endpoint(String url, List<String> events, String secret) {
        public Endpoint {
            Objects.requireNonNull(url, "url");
            events = List.copyOf(events);
            for (String e : events) {
                if (!EVENTS.contains(e)) {
                    throw new IllegalArgumentException("events: unknown event " + e);
                }
            }
        }

        @Override
        public String toString() {
            return "Endpoint[url=" + url + ", events=" + events + ", secret=" + (secret == null ? null : "***") + "]";
        }
    }

    public WebhooksConfig {
        endpoints = List.copyOf(endpoints);
        allowedHosts = List.copyOf(allowedHosts);
        Checks.range("queueSize", queueSize, 1, 1_000_000);
        Checks.positive("timeout", timeout);
        Checks.range("retries", retries, 0, 10);
    }

    /** Whether any endpoint exists. */
    public boolean enabled() {
        return !endpoints.isEmpty();
    }

    @Override
    public String toString() {
        return "WebhooksConfig[endpoints=" + endpoints + ", secret=" + (secret == null ? null : "***")
                + ", allowedHosts=" + allowedHosts + ", queueSize=" + queueSize + ", timeout=" + timeout
                + ", retries=" + retries + "]";
    }
}
