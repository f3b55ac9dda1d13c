package dev.oqp.queue.admin;

import java.io.IOException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.oqp.common.config.KeyConfig;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.Tier;
import dev.oqp.queue.cache.CacheService;
import dev.oqp.queue.coordination.Coordination;
import dev.oqp.queue.metrics.QueueMetrics;
import dev.oqp.queue.routing.Fleet;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.routing.Preloader;
import dev.oqp.queue.routing.SlotPool;
import dev.oqp.queue.scheduler.Reserve;
import dev.oqp.queue.scheduler.Scheduler;
import dev.oqp.queue.scheduler.Snapshot;

/**
 * The fields of {@code /queue/status} and {@code /queue/summary}: the queue, the slots, each host with its
 * inventory, the embedding cache and each client's queued and in-flight requests and tokens. Ids, names and
 * counts only: never a key, a URL, a header value or a prompt.
 *
 * <p>Each answer carries the Python ollama-queue-proxy's fields (its Homepage widgets, scripts and dashboard read
 * them) beside oqp's own: where a name is both tools' and the shapes differ ({@code hosts}, {@code clients}), each
 * element carries both sets of fields. {@code /queue/summary} holds scalars only.
 */
final class StatusJson {
    /** The Python tool's timestamps: ISO-8601 in UTC with microseconds and {@code +00:00}. */
    private static final DateTimeFormatter PYTHON_TIME = DateTimeFormatter
            .ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSSxxx", Locale.ROOT).withZone(ZoneOffset.UTC);

    private final Scheduler<?> scheduler;
    private final SlotPool pool;
    private final Fleet fleet;
    private final QueueMetrics metrics;
    /** Replicas acting as one, or null when {@code coordination} is off (the sections are absent then). */
    private volatile Coordination coordination;
    /** The warm models' loads ({@code preload}, {@code pin}), or null (their state is then not shown). */
    private volatile Preloader preloader;

    StatusJson(Scheduler<?> scheduler, SlotPool pool, Fleet fleet, QueueMetrics metrics) {
        this.scheduler = scheduler;
        this.pool = pool;
        this.fleet = fleet;
        this.metrics = metrics;
    }

    /**
     * The fields of {@code GET /queue/status}.
     *
     * @param config            the configuration in force (tier limits, key descriptions, security)
     * @param configuredClients the client ids it names, in config order: listed even when idle
     * @param cache             the embedding cache in force, or null
     * @param visible           the caller's client id when it lacks the management scope: the client blocks then
     *                          show that client only, and {@code model_caps} only names the config or the hosts'
     *                          inventories give (never one a client chose); null for a management caller (all)
     */
    void status(JsonGenerator g, OqpConfig config, Set<String> configuredClients, CacheService cache, String visible)
            throws IOException {
        Snapshot s = scheduler.snapshot();
        g.writeStringField("status", "ok");
        g.writeNumberField("uptime_seconds", metrics.uptimeSeconds());
        g.writeObjectFieldStart("queue");
        for (Tier t : Tier.values()) {
            g.writeObjectFieldStart(t.yamlName());
            g.writeNumberField("depth", s.depth().get(t));
            g.writeNumberField("max_depth", config.queue().tier(t).maxDepth());
            g.writeNumberField("processed", metrics.tier(t).processed().getLongValue());
            g.writeNumberField("rejected", metrics.rejected(t));
            g.writeNumberField("expired", metrics.tier(t).expired().getLongValue());
            g.writeEndObject();
        }
        g.writeEndObject();
        g.writeObjectFieldStart("concurrency");
        g.writeNumberField("active", pool.inFlight());
        g.writeNumberField("max", pool.globalCap());
        g.writeEndObject();
        writeReserves(g, config, visible);
        writeTiers(g, "paused", s.paused());
        writeTiers(g, "draining", s.draining());
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
            writeHost(g, host, visible == null);
        }
        g.writeEndArray();
        if (cache != null) {
            writeCache(g, cache);
        }
        writeClients(g, s, config, configuredClients, visible);
        Coordination c = coordination;
        if (c != null) {
            writeReplicas(g, c);
        }
        g.writeObjectFieldStart("security");
        g.writeBooleanField("auth_enabled", config.auth().enabled());
        g.writeBooleanField("model_management_allowed", config.proxy().allowModelManagement());
        g.writeNumberField("active_keys", config.auth().keys().size());
        g.writeEndObject();
    }

    void preloader(Preloader preloader) {
        this.preloader = preloader;
    }

    void coordination(Coordination coordination) {
        this.coordination = coordination;
    }

    /**
     * {@code coordination} (this replica's state and id) and {@code replicas}: each live one at the last
     * heartbeat with its config digest, flagged when that differs from this replica's.
     */
    private static void writeReplicas(JsonGenerator g, Coordination c) throws IOException {
        g.writeObjectFieldStart("coordination");
        g.writeStringField("state", c.degraded() ? "degraded" : "shared");
        g.writeStringField("replica_id", c.replicaId());
        g.writeStringField("config_digest", c.digest());
        g.writeEndObject();
        g.writeArrayFieldStart("replicas");
        long now = System.currentTimeMillis();
        for (Coordination.Replica r : c.replicas()) {
            g.writeStartObject();
            g.writeStringField("id", r.id());
            g.writeBooleanField("live", !c.degraded() || r.expiresAtMillis() > now);
            g.writeStringField("config_digest", r.digest());
            g.writeBooleanField("digest_differs", !r.digest().equals(c.digest()));
            g.writeBooleanField("self", r.id().equals(c.replicaId()));
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    /**
     * {@code reserves}: per tier its {@code reserved_slots}, {@code borrow} and the reserved slots other tiers hold now
     * ({@code borrowed}); {@code clients}: each client with {@code min_slots} (the caller's only without management),
     * to that number.
     */
    private void writeReserves(JsonGenerator g, OqpConfig config, String visible) throws IOException {
        g.writeObjectFieldStart("reserves");
        for (Reserve r : scheduler.reserves()) {
            g.writeObjectFieldStart(r.tier().yamlName());
            g.writeNumberField("reserved", r.reserved());
            g.writeNumberField("borrow", r.borrow());
            g.writeNumberField("borrowed", r.borrowed());
            g.writeEndObject();
        }
        g.writeObjectFieldStart("clients");
        for (KeyConfig key : config.auth().keys()) {
            if (key.minSlots() > 0 && (visible == null || visible.equals(key.clientId()))) {
                g.writeNumberField(key.clientId(), key.minSlots());
            }
        }
        g.writeEndObject();
        g.writeEndObject();
    }

    private static void writeTiers(JsonGenerator g, String field, Set<Tier> tiers) throws IOException {
        g.writeArrayFieldStart(field);
        for (Tier t : tiers) {
            g.writeString(t.yamlName());
        }
        g.writeEndArray();
    }

    /** A host: the Python tool's fields first ({@code models} = installed names, sorted), then oqp's. */
    private void writeHost(JsonGenerator g, Host host, boolean management) throws IOException {
        Host.Inventory inventory = host.inventory();
        Set<String> installed = new TreeSet<>(inventory.installed());
        QueueMetrics.HostSeries series = metrics.host(host.name());
        g.writeStartObject();
        g.writeStringField("name", host.name());
        g.writeBooleanField("healthy", host.health() == Host.Health.HEALTHY);
        writeNames(g, "models", installed);
        g.writeNumberField("requests_handled", series.requests().getLongValue());
        g.writeNumberField("failures", series.failures().getLongValue());
        Instant checked = host.lastHealthCheck();
        if (checked == null) {
            g.writeNullField("last_checked");
        } else {
            g.writeStringField("last_checked", PYTHON_TIME.format(checked));
        }
        g.writeStringField("health", host.health().label());
        g.writeNumberField("in_flight", pool.inFlight(host.name()));
        g.writeNumberField("max_concurrent", host.config().maxConcurrent());
        g.writeNumberField("weight", host.config().weight());
        writeNames(g, "installed", installed);
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
        HostModelsJson.write(g, host, pool, preloader, management);
        writeTime(g, "last_model_sync", inventory.syncedAt());
        writeTime(g, "last_health_check", checked);
        g.writeEndObject();
    }

    private static void writeNames(JsonGenerator g, String field, Set<String> names) throws IOException {
        g.writeArrayFieldStart(field);
        for (String name : names) {
            g.writeString(name);
        }
        g.writeEndArray();
    }

    private void writeCache(JsonGenerator g, CacheService cache) throws IOException {
        g.writeObjectFieldStart("embedding_cache");
        g.writeStringField("backend", cache.backend().describe());
        g.writeBooleanField("available", cache.backend().available());
        g.writeBooleanField("required", cache.required());
        g.writeStringField("partition", cache.config().partition().name().toLowerCase(Locale.ROOT));
        g.writeNumberField("hits", metrics.cacheHitTotal());
        g.writeNumberField("misses", metrics.cacheMissTotal());
        if (cache.backend().entries() >= 0) {
            g.writeNumberField("entries", cache.backend().entries());
            g.writeNumberField("bytes", cache.backend().bytes());
            g.writeNumberField("max_bytes", cache.config().maxMemory());
        }
        g.writeEndObject();
    }

    /**
     * {@code clients}, a map by client id as the Python tool's: every configured client in config order, then
     * every other client with something queued, in flight, counted or tokens, sorted. Each entry carries the
     * Python tool's {@code description}, {@code processed}, {@code rejected} and oqp's {@code client_id},
     * {@code queued}, {@code in_flight}, {@code prompt_tokens}, {@code completion_tokens}. A caller without the
     * management scope ({@code visible} its client id) sees its own entry only.
     */
    private void writeClients(JsonGenerator g, Snapshot s, OqpConfig config, Set<String> configuredClients,
                              String visible) throws IOException {
        Map<String, String> descriptions = new HashMap<>();
        for (KeyConfig key : config.auth().keys()) {
            if (key.description() != null) {
                descriptions.putIfAbsent(key.clientId(), key.description());
            }
        }
        Set<String> others = new TreeSet<>(s.queuedPerClient().keySet());
        others.addAll(pool.clientsInFlight());
        others.addAll(metrics.clientsWithTokens());
        others.addAll(metrics.clientsWithOutcomes());
        Set<String> ids = new LinkedHashSet<>(configuredClients);
        ids.addAll(others);
        if (visible != null) {
            ids = Set.of(visible);
        }
        g.writeObjectFieldStart("clients");
        for (String id : ids) {
            long[] outcomes = metrics.queueOutcomes(id);
            long[] tokens = metrics.tokens(id);
            g.writeObjectFieldStart(id);
            g.writeStringField("description", descriptions.get(id));
            g.writeNumberField("processed", outcomes[0]);
            g.writeNumberField("rejected", outcomes[1]);
            g.writeStringField("client_id", id);
            g.writeNumberField("queued", s.queuedPerClient().getOrDefault(id, 0));
            g.writeNumberField("in_flight", pool.clientInFlight(id));
            g.writeNumberField("prompt_tokens", tokens[0]);
            g.writeNumberField("completion_tokens", tokens[1]);
            g.writeEndObject();
        }
        g.writeEndObject();
    }

    private static void writeTime(JsonGenerator g, String field, Instant at) throws IOException {
        if (at == null) {
            g.writeNullField(field);
        } else {
            g.writeStringField(field, at.toString());
        }
    }

    /**
     * The fields of {@code GET /queue/summary}, scalars only: the Python tool's ten ({@code status, queued, active,
     * max_concurrent, hosts_healthy, hosts_total, processed, rejected, expired, uptime_seconds}; its Homepage tile
     * reads them), then oqp's ({@code in_flight}, {@code paused}, {@code draining}). A queue control's answer has
     * them too, with its own {@code status} ({@code withStatus} false).
     */
    void summary(JsonGenerator g, boolean withStatus) throws IOException {
        Snapshot s = scheduler.snapshot();
        int inFlight = pool.inFlight();
        long processed = 0;
        long rejected = 0;
        long expired = 0;
        for (Tier t : Tier.values()) {
            processed += metrics.tier(t).processed().getLongValue();
            rejected += metrics.rejected(t);
            expired += metrics.tier(t).expired().getLongValue();
        }
        if (withStatus) {
            g.writeStringField("status", "ok");
        }
        g.writeNumberField("queued", s.totalDepth());
        g.writeNumberField("active", inFlight);
        g.writeNumberField("max_concurrent", pool.globalCap());
        g.writeNumberField("hosts_healthy", fleet.healthyCount());
        g.writeNumberField("hosts_total", fleet.hosts().size());
        g.writeNumberField("processed", processed);
        g.writeNumberField("rejected", rejected);
        g.writeNumberField("expired", expired);
        g.writeNumberField("uptime_seconds", metrics.uptimeSeconds());
        g.writeNumberField("in_flight", inFlight);
        g.writeBooleanField("paused", !s.paused().isEmpty());
        g.writeBooleanField("draining", !s.draining().isEmpty());
    }
}
