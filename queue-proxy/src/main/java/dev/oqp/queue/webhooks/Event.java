package dev.oqp.queue.webhooks;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.oqp.common.config.Tier;

/**
 * One webhook event: its name and its payload, in the Python ollama-queue-proxy's key order ({@code event},
 * {@code timestamp}, {@code tier} when there is one, then the event's own fields). Payloads carry names, ids,
 * counts and short error kinds only: never a key, a secret, a prompt, a header value or a URL.
 *
 * @param name    one of {@link dev.oqp.common.config.WebhooksConfig#EVENTS}
 * @param payload the JSON object sent, in order
 */
public record Event(String name, Map<String, Object> payload) {

    public Event {
        payload = Collections.unmodifiableMap(new LinkedHashMap<>(payload));
    }

    /** A request refused because its tier held {@code max_depth} waiting requests. */
    public static Event queueFull(Tier tier, String clientId, String requestId) {
        return of("queue.full", tier, "client_id", clientId, "request_id", requestId);
    }

    /** A request refused because its body would exceed {@code queue.max_queued_bytes}. */
    public static Event overCapacity(Tier tier, String clientId, String requestId) {
        return of("queue.over_capacity", tier, "client_id", clientId, "request_id", requestId);
    }

    /** The tier's waiting requests reached its high watermark. */
    public static Event highWatermark(Tier tier, int depth, int maxDepth) {
        return of("queue.high_watermark", tier, "queue_depth", depth, "max_depth", maxDepth);
    }

    /** The queue went from some waiting requests to none. */
    public static Event drained() {
        return of("queue.drained", null);
    }

    /** A host turned unhealthy; {@code error} is a short kind such as {@code connection_refused}. */
    public static Event hostUnhealthy(String host, String error) {
        return of("host.unhealthy", null, "name", host, "error", error);
    }

    /** An unhealthy host answered its health check again. */
    public static Event hostRecovered(String host) {
        return of("host.recovered", null, "name", host);
    }

    /** A reload applied a new configuration; {@code changed} names the sections that changed. */
    public static Event configReloaded(List<String> changed) {
        return of("config.reloaded", null, "changed", List.copyOf(changed));
    }

    /** A reload was refused; only the number of problems is sent (a problem line may quote a value). */
    public static Event configReloadFailed(int problems) {
        return of("config.reload_failed", null, "problems", problems);
    }

    /** A client was refused by one of its rate limits ({@code requests_per_minute}, …). */
    public static Event rateLimited(String clientId, String limit, long retryAfterSeconds) {
        return of("client.rate_limited", null, "client_id", clientId, "limit", limit, "retry_after_seconds",
                retryAfterSeconds);
    }

    private static Event of(String name, Tier tier, Object... extras) {
        Map<String, Object> payload = new LinkedHashMap<>();
        payload.put("event", name);
        payload.put("timestamp", timestamp(Instant.now()));
        if (tier != null) {
            payload.put("tier", tier.yamlName());
        }
        for (int i = 0; i < extras.length; i += 2) {
            payload.put((String) extras[i], extras[i + 1]);
        }
        return new Event(name, payload);
    }

    /**
     * {@code instant} as Python's {@code datetime.now(timezone.utc).isoformat()} writes it:
     * {@code 2026-10-07T12:00:03.243347+00:00}, microseconds left out when they are 0.
     */
    static String timestamp(Instant instant) {
        OffsetDateTime t = instant.atOffset(ZoneOffset.UTC);
        int micros = t.getNano() / 1000;
        String base = String.format("%04d-%02d-%02dT%02d:%02d:%02d", t.getYear(), t.getMonthValue(),
                t.getDayOfMonth(), t.getHour(), t.getMinute(), t.getSecond());
        return micros == 0 ? base + "+00:00" : base + String.format(".%06d+00:00", micros);
    }
}
