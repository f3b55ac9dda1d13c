package dev.oqp.common.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Translates a raw tree in the Python ollama-queue-proxy's schema (0.2 to 0.5, see
 * {@code docs/configuration.md}, "Files in the Python tool's schema") into the equivalent oqp tree, which the
 * usual binders then read. Text is carried over as written, so {@code ${VAR}} references stay references;
 * numbers are read as leniently as the Python tool read them ({@code 11435.0}, {@code "11435"}, {@code yes})
 * and given oqp's units (seconds, MiB). Where the two tools' defaults differ and matter, the Python tool's
 * is written out. Every translated key and every key without an equivalent gives a note; the notes that need
 * the operator's attention (a key without an equivalent whose behaviour changes, a deprecated key, a key the Python
 * tool did not have either, a probable typo) are also listed apart, to be logged at WARN, the plain translations
 * at INFO. The oqp path of each translated value remembers its Python key, so a problem with it names both.
 */
final class PythonTranslator {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    /**
     * The oqp tree, the notes to log once (all of them, and apart those that need attention), problems the
     * translation itself found, and each value's origin.
     */
    record Result(ObjectNode tree, List<String> notes, List<String> attention, List<String> problems,
            Map<String, String> origins) {
    }

    private final JsonNode in;
    private final Map<String, String> envOrigins;
    private final ObjectNode out = NODES.objectNode();
    private final boolean migrate;
    private final List<String> notes = new ArrayList<>();
    private final List<String> attention = new ArrayList<>();
    private final List<String> problems = new ArrayList<>();
    private final Map<String, String> origins = new LinkedHashMap<>();
    private final Lax lax = new Lax();

    private PythonTranslator(JsonNode in, Map<String, String> envOrigins, boolean migrate) {
        this.in = in;
        this.envOrigins = envOrigins;
        this.migrate = migrate;
    }

    /**
     * {@code envOrigins}: the environment variable behind each overridden Python path; {@code migrate}: the notes
     * become comments of the converted file, so none speaks of the file as still written in the Python schema.
     */
    static Result translate(JsonNode python, Map<String, String> envOrigins, boolean migrate) {
        PythonTranslator t = new PythonTranslator(python, envOrigins, migrate);
        t.run();
        return new Result(t.out, t.notes, t.attention, t.problems, t.origins);
    }

    private void run() {
        for (Map.Entry<String, JsonNode> e : in.properties()) {
            if (!SECTIONS.contains(e.getKey())) {
                attention(e.getKey() + ": not a section of the Python tool's schema either; ignored, as the Python tool"
                        + " ignored it (check the spelling)");
            } else if (!e.getValue().isObject() && !e.getValue().isNull()) {
                problems.add(e.getKey() + ": expected a map, got " + Node.kind(e.getValue()));
            }
        }
        proxy(in.path("proxy"));
        int perHost = hostSlots(in.path("proxy").path("max_concurrent"));
        ollama(in.path("ollama"), perHost);
        queue(in.path("queue"));
        routing(in.path("routing"));
        AuthTranslator.auth(this, in.path("auth"));
        InjectionTranslator.listeners(this, in.path("client_injection"));
        embeddingCache(in.path("embedding_cache"));
        keepAlive(in.path("keep_alive"));
        WebhooksTranslator.webhooks(this, in.path("webhooks"), envOrigins);
        dashboard(in.path("dashboard"));
        logging(in.path("logging"));
        out.properties().removeIf(e -> e.getValue().isObject() && e.getValue().isEmpty());
    }

    /** The Python tool's embedding_cache.max_entry_bytes default, in bytes. */
    static final int PYTHON_MAX_ENTRY_BYTES = 32768;

    private static final Set<String> SECTIONS = Set.of("proxy", "ollama", "queue", "webhooks", "auth", "logging",
            "client_injection", "routing", "embedding_cache", "keep_alive", "dashboard");

    private void proxy(JsonNode p) {
        ObjectNode o = section("proxy");
        Keys keys = new Keys("proxy", p, "host", "port", "max_concurrent", "allow_model_management", "drain_timeout",
                "max_request_body_mb");
        JsonNode host = p.get("host");
        if (host != null && !host.isNull()) {
            copy(o, "proxy.host", "host", host);
            if (host.isTextual() && !host.textValue().contains("$") && !InetLiterals.isLoopback(host.textValue().trim())) {
                o.put("allow_public", true);
                note("proxy.host: " + host.textValue() + " is not a loopback address: proxy.allow_public: true"
                        + " added (the file asks to listen beyond this machine)");
            }
        } else {
            attention("proxy.host: not set; the Python tool listened on 0.0.0.0 by default, oqp keeps 127.0.0.1 (this"
                    + " machine only): write proxy.host: 0.0.0.0 to listen on every interface");
        }
        if (p.has("port")) {
            put(o, "port", "proxy.port", "proxy.port", lax.integer(p.get("port")));
        }
        JsonNode globalCap = p.path("max_concurrent");
        put(o, "max_concurrent", "proxy.max_concurrent", "proxy.max_concurrent",
                globalCap.isMissingNode() ? NODES.numberNode(2) : lax.integer(globalCap));
        if (globalCap.isMissingNode()) {
            note("proxy.max_concurrent: not set: 2, the Python tool's default (oqp's own would be the sum of the"
                    + " hosts' slots)");
        }
        JsonNode management = p.path("allow_model_management");
        put(o, "allow_model_management", "proxy.allow_model_management", "proxy.allow_model_management",
                management.isMissingNode() ? NODES.booleanNode(false) : lax.bool(management));
        if (management.isMissingNode()) {
            note("proxy.allow_model_management: not set: false, the Python tool's default (pull, push, create,"
                    + " copy and delete answer 403)");
        }
        if (p.has("drain_timeout")) {
            put(o, "drain_timeout", "proxy.drain_timeout", "proxy.drain_timeout", lax.seconds(p.get("drain_timeout")));
        }
        if (p.has("max_request_body_mb")) {
            put(o, "max_body", "proxy.max_body", "proxy.max_request_body_mb", lax.mebibytes(p.get("max_request_body_mb")));
            note("proxy.max_request_body_mb → proxy.max_body (MiB), also the max_body of every injection port"
                    + " (services[]), as the Python tool applied it to its injection listeners");
        }
        keys.unknown();
    }

    /** Each host's slots: the Python tool's global worker count, so that the global cap is what binds. */
    private int hostSlots(JsonNode globalCap) {
        JsonNode n = globalCap.isMissingNode() ? NODES.numberNode(2) : lax.integer(globalCap);
        if (n.isIntegralNumber() && n.asLong() < 1) {
            problems.add("proxy.max_concurrent: " + n.asText() + " (expected: >= 1; the Python tool would dispatch"
                    + " nothing queued)");
        }
        return n.isIntegralNumber() && n.asLong() >= 1 && n.asLong() <= 10_000 ? n.asInt() : 2;
    }

    private void ollama(JsonNode p, int perHost) {
        ObjectNode o = section("ollama");
        Keys keys = new Keys("ollama", p, "hosts", "health_check_interval", "request_timeout");
        JsonNode hosts = p.get("hosts");
        if (hosts != null && hosts.isArray()) {
            ArrayNode list = o.putArray("hosts");
            Long smallest = null;
            boolean anySync = false;
            for (int i = 0; i < hosts.size(); i++) {
                JsonNode h = hosts.get(i);
                String at = "ollama.hosts[" + i + "]";
                if (!h.isObject()) {
                    list.add(h);
                    continue;
                }
                ObjectNode host = list.addObject();
                Keys hostKeys = new Keys(at, h, "url", "name", "weight", "model_sync_interval");
                copy(host, at + ".name", "name", h.get("name"));
                copy(host, at + ".url", "url", h.get("url"));
                host.put("max_concurrent", perHost);
                if (h.has("weight")) {
                    put(host, "weight", at + ".weight", at + ".weight", lax.integer(h.get("weight")));
                }
                JsonNode sync = h.has("model_sync_interval") ? lax.integer(h.get("model_sync_interval"))
                        : NODES.numberNode(30);
                anySync |= h.has("model_sync_interval");
                if (sync.isIntegralNumber() && sync.asLong() >= 1 && (smallest == null || sync.asLong() < smallest)) {
                    smallest = sync.asLong();
                }
                hostKeys.unknown();
            }
            note("ollama.hosts[].max_concurrent: " + perHost + " on every host, the Python tool's proxy.max_concurrent"
                    + " (which stays the global cap)");
            if (anySync && smallest != null) {
                o.put("model_sync_interval", smallest + "s");
                note("ollama.hosts[].model_sync_interval → ollama.model_sync_interval: " + smallest
                        + "s, the smallest (oqp polls every host at one interval)");
            }
        } else if (hosts != null) {
            o.set("hosts", hosts);
        }
        if (p.has("health_check_interval")) {
            note("ollama.health_check_interval: ignored (unused by the Python tool since 0.4.0); oqp checks GET / on"
                    + " every host every 10s, its own default");
        }
        if (p.has("request_timeout")) {
            put(o, "request_timeout", "ollama.request_timeout", "ollama.request_timeout",
                    lax.seconds(p.get("request_timeout")));
        }
        keys.unknown();
    }

    private void queue(JsonNode p) {
        Keys keys = new Keys("queue", p, "high", "normal", "low", "overflow_status_code", "max_queued_mb");
        ObjectNode o = section("queue");
        o.put("aging", 0);
        note("queue.aging: 0, the Python tool's strict priority (oqp's own default, 1m, moves a waiting request up one"
                + " tier per minute)");
        o.put("paused", "refuse");
        note("queue.paused: refuse, as the Python tool answered a new request to a paused tier (503 at once; oqp's"
                + " own default holds it until the tier is resumed or its max_wait passes)");
        for (String tier : List.of("high", "normal", "low")) {
            JsonNode t = p.get(tier);
            if (t == null || t.isNull()) {
                continue;
            }
            String at = "queue." + tier;
            if (!t.isObject()) {
                o.set(tier, t);
                continue;
            }
            ObjectNode tierOut = o.putObject(tier);
            Keys tierKeys = new Keys(at, t, "max_depth", "max_wait", "high_watermark_pct");
            JsonNode depth = t.has("max_depth") ? lax.integer(t.get("max_depth")) : NODES.numberNode(100);
            if (!t.has("max_depth")) {
                note(at + ".max_depth: not set in a tier block that is present: 100, as the Python tool read it (its"
                        + " tier default applies only when the block is absent)");
            } else if (depth.isIntegralNumber() && depth.asLong() <= 0) {
                depth = NODES.numberNode(Integer.MAX_VALUE);
                note(at + ".max_depth: " + t.get("max_depth").asText() + " made the tier unbounded in the Python tool: "
                        + Integer.MAX_VALUE + " (oqp's 0 means the tier never holds a waiting request)");
            }
            put(tierOut, "max_depth", at + ".max_depth", at + ".max_depth", depth);
            if (t.has("max_wait")) {
                put(tierOut, "max_wait", at + ".max_wait", at + ".max_wait", lax.seconds(t.get("max_wait")));
            } else {
                tierOut.put("max_wait", "300s");
                note(at + ".max_wait: not set in a tier block that is present: 300s, as the Python tool read it");
            }
            if (t.has("high_watermark_pct")) {
                put(tierOut, "high_watermark_pct", at + ".high_watermark_pct", at + ".high_watermark_pct",
                        lax.integer(t.get("high_watermark_pct")));
            }
            tierKeys.unknown();
        }
        if (p.has("overflow_status_code")) {
            put(o, "overflow_status_code", "queue.overflow_status_code", "queue.overflow_status_code",
                    lax.integer(p.get("overflow_status_code")));
        }
        if (p.has("max_queued_mb")) {
            put(o, "max_queued_bytes", "queue.max_queued_bytes", "queue.max_queued_mb",
                    lax.mebibytes(p.get("max_queued_mb")));
            note("queue.max_queued_mb → queue.max_queued_bytes (MiB)");
        }
        keys.unknown();
    }

    private void routing(JsonNode p) {
        ObjectNode o = section("routing");
        Keys keys = new Keys("routing", p, "strategy", "fallback", "model_poll_timeout");
        if (p.has("strategy")) {
            copy(o, "routing.strategy", "strategy", p.get("strategy"));
        } else {
            o.put("strategy", "round_robin");
            note("routing.strategy: not set: round_robin, the Python tool's default (oqp's own is model_aware)");
        }
        if (p.has("fallback")) {
            copy(o, "routing.fallback", "fallback", p.get("fallback"));
        }
        if (p.has("model_poll_timeout")) {
            attention("routing.model_poll_timeout: no equivalent, ignored (an oqp poll times out after its interval,"
                    + " between 1s and 5s, and never runs on a request thread)");
        }
        keys.unknown();
    }

    private void embeddingCache(JsonNode p) {
        ObjectNode o = section("embedding_cache");
        Keys keys = new Keys("embedding_cache", p, "enabled", "backend", "ttl", "max_entry_bytes", "key_prefix",
                "connect_timeout");
        JsonNode enabled = p.has("enabled") ? lax.bool(p.get("enabled")) : NODES.booleanNode(false);
        put(o, "enabled", "embedding_cache.enabled", "embedding_cache.enabled", enabled);
        if (!p.has("enabled")) {
            note("embedding_cache.enabled: not set: false, the Python tool's default (oqp's own is on, in memory)");
        }
        if (p.has("backend")) {
            copy(o, "embedding_cache.backend", "backend", p.get("backend"));
        } else if (!enabled.isBoolean() || enabled.booleanValue()) {
            o.put("backend", "redis://localhost:6379/0");
            note("embedding_cache.backend: not set: redis://localhost:6379/0, the Python tool's default");
        }
        if (p.has("ttl")) {
            put(o, "ttl", "embedding_cache.ttl", "embedding_cache.ttl", lax.seconds(p.get("ttl")));
        }
        if (p.has("max_entry_bytes")) {
            put(o, "max_entry_bytes", "embedding_cache.max_entry_bytes", "embedding_cache.max_entry_bytes",
                    lax.integer(p.get("max_entry_bytes")));
        } else {
            o.put("max_entry_bytes", PYTHON_MAX_ENTRY_BYTES);
            note("embedding_cache.max_entry_bytes: not set: " + PYTHON_MAX_ENTRY_BYTES + ", the Python tool's default"
                    + " (oqp's own is 1MiB)");
        }
        if (p.has("key_prefix")) {
            copy(o, "embedding_cache.key_prefix", "key_prefix", p.get("key_prefix"));
        }
        if (p.has("connect_timeout")) {
            attention("embedding_cache.connect_timeout: no equivalent, ignored (oqp connects in the background and starts"
                    + " without the backend; a lookup times out after embedding_cache.timeout, 250ms)");
        }
        keys.unknown();
    }

    private void keepAlive(JsonNode p) {
        ObjectNode o = section("keep_alive");
        Keys keys = new Keys("keep_alive", p, "default", "override");
        if (p.has("default")) {
            copy(o, "keep_alive.default", "default", p.get("default"));
        } else {
            o.put("default", "5m");
            note("keep_alive.default: not set: 5m, the Python tool's default (oqp's own injects nothing)");
        }
        if (p.has("override")) {
            put(o, "override", "keep_alive.override", "keep_alive.override", lax.bool(p.get("override")));
        }
        keys.unknown();
    }

    private void dashboard(JsonNode p) {
        Keys keys = new Keys("dashboard", p, "enabled", "refresh_seconds");
        ObjectNode admin = section("admin");
        put(admin, "dashboard", "admin.dashboard", "dashboard.enabled",
                p.has("enabled") ? lax.bool(p.get("enabled")) : NODES.booleanNode(false));
        if (p.has("enabled")) {
            note("dashboard.enabled → admin.dashboard");
        } else {
            note("admin.dashboard: false, the Python tool's default (oqp's own serves /dashboard)");
        }
        if (p.has("refresh_seconds")) {
            attention("dashboard.refresh_seconds: no equivalent, ignored (oqp's page refreshes every 2s)");
        }
        keys.unknown();
    }

    private void logging(JsonNode p) {
        ObjectNode o = section("logging");
        Keys keys = new Keys("logging", p, "level", "format");
        if (p.has("level")) {
            JsonNode level = p.get("level");
            if (level.isTextual()) {
                String mapped = switch (level.textValue().trim().toUpperCase(Locale.ROOT)) {
                    case "WARNING", "WARN" -> "warn";
                    case "CRITICAL", "FATAL" -> "error";
                    case "NOTSET" -> "debug";
                    default -> level.textValue().trim().toLowerCase(Locale.ROOT);
                };
                if (!mapped.equalsIgnoreCase(level.textValue().trim())) {
                    note("logging.level: " + level.textValue() + " → " + mapped);
                }
                level = NODES.textNode(mapped);
            }
            put(o, "level", "logging.level", "logging.level", level);
        }
        if (p.has("format")) {
            copy(o, "logging.format", "format", p.get("format"));
        }
        keys.unknown();
    }

    // --- helpers, also used by InjectionTranslator ---

    ObjectNode section(String name) {
        JsonNode existing = out.get(name);
        return existing instanceof ObjectNode object ? object : out.putObject(name);
    }

    ObjectNode root() {
        return out;
    }

    Lax lax() {
        return lax;
    }

    /** Sets {@code key} of {@code target} (oqp path {@code oqpPath}) to {@code value}, read from {@code pyPath}. */
    void put(ObjectNode target, String key, String oqpPath, String pyPath, JsonNode value) {
        target.set(key, value);
        String env = envOrigins.get(pyPath);
        if (env != null) {
            origins.put(oqpPath, env);
        } else if (!oqpPath.equals(pyPath)) {
            origins.put(oqpPath, pyPath);
        }
    }

    void problem(String text) {
        problems.add(text);
    }

    void origin(String oqpPath, String pyPath) {
        origins.put(oqpPath, pyPath);
    }

    /** Copies a value whose key and path are the same in both schemas. */
    void copy(ObjectNode target, String path, String key, JsonNode value) {
        if (value != null) {
            put(target, key, path, path, value);
        }
    }

    /** A plain translation, or a default of the Python tool written out: logged at INFO. */
    void note(String text) {
        notes.add(text);
    }

    /** A note that needs the operator's attention: logged at WARN, counted by --check-config. */
    void attention(String text) {
        notes.add(text);
        attention.add(text);
    }

    /** True when the notes become the comments of migrate-config's output. */
    boolean migrating() {
        return migrate;
    }

    /** The keys of one Python map; {@link #unknown()} notes the ones the Python tool did not have either. */
    final class Keys {
        private final String path;
        private final JsonNode node;
        private final Set<String> known;

        Keys(String path, JsonNode node, String... known) {
            this.path = path;
            this.node = node;
            this.known = Set.of(known);
        }

        void unknown() {
            if (node == null || !node.isObject()) {
                return;
            }
            for (Map.Entry<String, JsonNode> e : node.properties()) {
                if (!known.contains(e.getKey())) {
                    attention(path + "." + e.getKey() + ": not a key of the Python tool's schema either; ignored, as the"
                            + " Python tool ignored it (check the spelling)");
                }
            }
        }
    }
}
