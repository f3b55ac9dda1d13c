package dev.oqp.queue.admin;

import java.io.IOException;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.oqp.common.config.Tier;
import dev.oqp.queue.cache.CacheService;
import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.Scheduler;
import dev.oqp.queue.scheduler.Snapshot;

/**
 * The fields of {@code /queue/status} and {@code /queue/summary}: the queue, the slots, each host with its
 * inventory, the embedding cache and each client's queued and in-flight requests and tokens. Ids, names and
 * counts only: never a key, a header value or a prompt.
 */
final class StatusJson {
    private final Scheduler<?> scheduler;
    private final SlotPool pool;
    private final Fleet fleet;
    private final QueueMetrics metrics;

    StatusJson(Scheduler<?> scheduler, SlotPool pool, Fleet fleet, QueueMetrics metrics) {
        this.scheduler = scheduler;
        this.pool = pool;
        this.fleet = fleet;
        this.metrics = metrics;
    }

    /** The fields of {@code GET /queue/status}. */
    void status(JsonGenerator g, CacheService cache) throws IOException {
        Snapshot s = scheduler.snapshot();
        g.writeArrayFieldStart("paused");
        for (Tier t : s.paused()) {
            g.writeString(t.yamlName());
        }
        g.writeEndArray();
        g.writeArrayFieldStart("draining");
        for (Tier t : s.draining()) {
            g.writeString(t.yamlName());
        }
        g.writeEndArray();
        g.writeObjectFieldStart("queued");
        for (Tier t : Tier.values()) {
            g.writeNumberField(t.yamlName(), s.depth().get(t));
        }
        g.writeEndObject();
        g.writeNumberField("queued_total", s.totalDepth());
        g.writeNumberField("queued_bytes", s.queuedBytes());
        g.writeNumberField("in_flight", pool.inFlight());
        g.writeNumberField("max_concurrent", pool.globalCap());
        g.writeArrayFieldStart("hosts");
        for (Host host : fleet.hosts()) {
            g.writeStartObject();
            g.writeStringField("name", host.name());
            g.writeStringField("health", host.health().label());
            g.writeNumberField("in_flight", pool.inFlight(host.name()));
            g.writeNumberField("max_concurrent", host.config().maxConcurrent());
            g.writeNumberField("weight", host.config().weight());
            Host.Inventory inventory = host.inventory();
            g.writeArrayFieldStart("installed");
            for (String model : new TreeSet<>(inventory.installed())) {
                g.writeString(model);
            }
            g.writeEndArray();
            g.writeArrayFieldStart("loaded");
            for (Map.Entry<String, Host.Loaded> model : new TreeMap<>(inventory.loaded()).entrySet()) {
                g.writeStartObject();
                g.writeStringField("name", model.getKey());
                if (model.getValue().expiresAt() != null) {
                    g.writeStringField("expires_at", model.getValue().expiresAt());
                }
                g.writeNumberField("size_vram", model.getValue().sizeVram());
                g.writeEndObject();
            }
            g.writeEndArray();
            writeTime(g, "last_model_sync", inventory.syncedAt());
            writeTime(g, "last_health_check", host.lastHealthCheck());
            g.writeEndObject();
        }
        g.writeEndArray();
        if (cache != null) {
            g.writeObjectFieldStart("embedding_cache");
            g.writeStringField("backend", cache.backend().describe());
            g.writeBooleanField("available", cache.backend().available());
            g.writeBooleanField("required", cache.required());
            g.writeStringField("partition", cache.config().partition().name().toLowerCase(Locale.ROOT));
            g.writeNumberField("hits", (long) metrics.cacheHits.get());
            g.writeNumberField("misses", (long) metrics.cacheMisses.get());
            if (cache.backend().entries() >= 0) {
                g.writeNumberField("entries", cache.backend().entries());
                g.writeNumberField("bytes", cache.backend().bytes());
                g.writeNumberField("max_bytes", cache.config().maxMemory());
            }
            g.writeEndObject();
        }
        Map<String, int[]> clients = new TreeMap<>();
        s.queuedPerClient().forEach((id, n) -> clients.computeIfAbsent(id, k -> new int[2])[0] = n);
        for (String id : pool.clientsInFlight()) {
            clients.computeIfAbsent(id, k -> new int[2])[1] = pool.clientInFlight(id);
        }
        for (String id : metrics.clientsWithTokens()) {
            clients.computeIfAbsent(id, k -> new int[2]);
        }
        g.writeArrayFieldStart("clients");
        for (Map.Entry<String, int[]> c : clients.entrySet()) {
            long[] tokens = metrics.tokens(c.getKey());
            g.writeStartObject();
            g.writeStringField("client_id", c.getKey());
            g.writeNumberField("queued", c.getValue()[0]);
            g.writeNumberField("in_flight", c.getValue()[1]);
            g.writeNumberField("prompt_tokens", tokens[0]);
            g.writeNumberField("completion_tokens", tokens[1]);
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    private static void writeTime(JsonGenerator g, String field, Instant at) throws IOException {
        if (at == null) {
            g.writeNullField(field);
        } else {
            g.writeStringField(field, at.toString());
        }
    }

    /** The fields of {@code GET /queue/summary} (also in every queue control's answer). */
    void summary(JsonGenerator g) throws IOException {
        Snapshot s = scheduler.snapshot();
        g.writeNumberField("queued", s.totalDepth());
        g.writeNumberField("in_flight", pool.inFlight());
        g.writeNumberField("max_concurrent", pool.globalCap());
        g.writeBooleanField("paused", !s.paused().isEmpty());
        g.writeBooleanField("draining", !s.draining().isEmpty());
    }
}
