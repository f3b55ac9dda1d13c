package dev.oqp.common.config;

import java.net.URI;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Renders the effective configuration as YAML in the file's own keys, for {@code --check-config} and
 * the start-up log. Secrets are shown as {@code ***}: every header value, every {@code key}, webhook secret and webhook URL path, and
 * {@code key_sha256}, and the password of a Redis URL. The output parses back to the same config when
 * it held no secrets.
 */
public final class ConfigPrinter {

    /** The replacement for every secret. */
    public static final String REDACTED = "***";

    private ConfigPrinter() {
    }

    /** The effective configuration as YAML, secrets redacted. */
    public static String redactedYaml(OqpConfig config) {
        return YamlTree.write(redactedTree(config));
    }

    /**
     * The effective configuration as {@code target} acts on it, secrets redacted: the sidecar's view holds
     * only {@code services}, {@code logging} and {@code sidecar}; the queue proxy's holds everything else.
     */
    public static String redactedYaml(OqpConfig config, Target target) {
        ObjectNode root = redactedTree(config);
        if (target == Target.SIDECAR) {
            root.retain("services", "logging", "sidecar");
        } else {
            root.remove("sidecar");
        }
        return YamlTree.write(root);
    }

    private static ObjectNode redactedTree(OqpConfig config) {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        ArrayNode services = root.putArray("services");
        for (ServiceConfig s : config.services()) {
            ObjectNode n = services.addObject();
            n.put("name", s.name());
            n.put("listen", s.listen());
            n.put("bind", s.bind());
            n.put("allow_public", s.allowPublic());
            if (s.upstream() != null) {
                n.put("upstream", s.upstream().toString());
            }
            n.put("timeout", Durations.format(s.timeout()));
            n.put("connect_timeout", Durations.format(s.connectTimeout()));
            n.put("max_body", Sizes.format(s.maxBody()));
            headers(n, s.headers());
            if (s.client() != null) {
                n.put("client", s.client());
            }
            if (s.caFile() != null) {
                n.put("ca_file", literal(s.caFile().toString()));
            }
            if (s.earlyHeaders()) {
                n.put("early_headers", true);
            }
        }

        ProxyConfig p = config.proxy();
        ObjectNode proxy = root.putObject("proxy");
        proxy.put("host", p.host());
        proxy.put("port", p.port());
        proxy.put("allow_public", p.allowPublic());
        proxy.put("max_concurrent", p.maxConcurrent());
        proxy.put("max_body", Sizes.format(p.maxBody()));
        proxy.put("drain_timeout", Durations.format(p.drainTimeout()));
        ArrayNode trusted = proxy.putArray("trusted_proxies");
        p.trustedProxies().forEach(c -> trusted.add(c.toString()));
        proxy.put("allow_model_management", p.allowModelManagement());

        OllamaConfig o = config.ollama();
        ObjectNode ollama = root.putObject("ollama");
        ArrayNode hosts = ollama.putArray("hosts");
        for (HostConfig h : o.hosts()) {
            ObjectNode n = hosts.addObject();
            n.put("name", h.name());
            n.put("url", h.url().toString());
            n.put("max_concurrent", h.maxConcurrent());
            n.put("weight", h.weight());
            headers(n, h.headers());
            models(n.putObject("models"), h.models());
            ArrayNode preload = n.putArray("preload");
            h.preload().forEach(preload::add);
        }
        models(ollama.putObject("models"), o.models());
        ollama.put("connect_timeout", Durations.format(o.connectTimeout()));
        ollama.put("request_timeout", Durations.format(o.requestTimeout()));
        ollama.put("health_check_interval", Durations.format(o.healthCheckInterval()));
        ollama.put("model_sync_interval", Durations.format(o.modelSyncInterval()));

        QueueConfig q = config.queue();
        ObjectNode queue = root.putObject("queue");
        for (Tier t : Tier.values()) {
            ObjectNode n = queue.putObject(t.yamlName());
            n.put("max_depth", q.tier(t).maxDepth());
            n.put("max_wait", Durations.format(q.tier(t).maxWait()));
            n.put("high_watermark_pct", q.tier(t).highWatermarkPct());
            n.put("reserved_slots", q.tier(t).reservedSlots());
            n.put("borrow", q.tier(t).borrow());
        }
        queue.put("overflow_status_code", q.overflowStatusCode());
        queue.put("aging", Durations.format(q.aging()));
        queue.put("max_queued_bytes", Sizes.format(q.maxQueuedBytes()));
        queue.put("paused", q.paused().name().toLowerCase(Locale.ROOT));
        queue.put("early_headers_after", Durations.format(q.earlyHeadersAfter()));
        queue.put("heartbeat", Durations.format(q.heartbeat()));

        AuthConfig a = config.auth();
        ObjectNode auth = root.putObject("auth");
        auth.put("enabled", a.enabled());
        ArrayNode keys = auth.putArray("keys");
        for (KeyConfig k : a.keys()) {
            ObjectNode n = keys.addObject();
            n.put("client_id", k.clientId());
            switch (k.source()) {
                case KEY:
                    n.put("key", REDACTED);
                    break;
                case KEY_ENV:
                    n.put("key_env", k.keyEnv());
                    break;
                case KEY_FILE:
                    n.put("key_file", literal(k.keyFile().toString()));
                    break;
                default:
                    n.put("key_sha256", REDACTED);
                    break;
            }
            n.put("max_priority", k.maxPriority().yamlName());
            n.put("scope", k.scope().yamlName());
            n.put("max_concurrent", k.maxConcurrent());
            n.put("min_slots", k.minSlots());
            ArrayNode models = n.putArray("models");
            k.models().forEach(m -> models.add(literal(m)));
            n.put("requests_per_minute", k.limits().requestsPerMinute());
            n.put("tokens_per_minute", k.limits().tokensPerMinute());
            n.put("tokens_per_day", k.limits().tokensPerDay());
            if (k.description() != null) {
                n.put("description", literal(k.description()));
            }
            if (k.earlyHeaders()) {
                n.put("early_headers", true);
            }
        }
        auth.put("max_header_clients", a.maxHeaderClients());
        ObjectNode rate = auth.putObject("rate_limit");
        rate.put("max_failures", a.rateLimit().maxFailures());
        rate.put("window", Durations.format(a.rateLimit().window()));

        ObjectNode routing = root.putObject("routing");
        routing.put("strategy", lower(config.routing().strategy()));
        routing.put("fallback", lower(config.routing().fallback()));
        routing.put("protect_cold_loads", config.routing().protectColdLoads());

        EmbeddingCacheConfig c = config.embeddingCache();
        ObjectNode cache = root.putObject("embedding_cache");
        cache.put("enabled", c.enabled());
        cache.put("backend", RedisUrls.redact(c.backend()));
        cache.put("ttl", Durations.format(c.ttl()));
        cache.put("max_entries", c.maxEntries());
        cache.put("max_entry_bytes", Sizes.format(c.maxEntryBytes()));
        cache.put("max_memory", Sizes.format(c.maxMemory()));
        cache.put("timeout", Durations.format(c.timeout()));
        cache.put("key_prefix", literal(c.keyPrefix()));
        cache.put("partition", lower(c.partition()));
        cache.put("required", c.required());

        ObjectNode keepAlive = root.putObject("keep_alive");
        keepAlive.put("default", config.keepAlive().defaultValue());
        keepAlive.put("override", config.keepAlive().override());

        ObjectNode admin = root.putObject("admin");
        admin.put("metrics_public", config.admin().metricsPublic());
        admin.put("dashboard", config.admin().dashboard());

        ObjectNode logging = root.putObject("logging");
        logging.put("level", config.logging().level());
        logging.put("format", lower(config.logging().format()));
        logging.put("access_log", config.logging().accessLog());

        WebhooksConfig w = config.webhooks();
        ObjectNode webhooks = root.putObject("webhooks");
        ArrayNode endpoints = webhooks.putArray("endpoints");
        for (WebhooksConfig.Endpoint e : w.endpoints()) {
            ObjectNode n = endpoints.addObject();
            n.put("url", literal(webhookUrl(e.url())));
            ArrayNode events = n.putArray("events");
            e.events().forEach(events::add);
            if (e.secret() != null) {
                n.put("secret", REDACTED);
            }
        }
        if (w.secret() != null) {
            webhooks.put("secret", REDACTED);
        }
        ArrayNode allowed = webhooks.putArray("allowed_hosts");
        w.allowedHosts().forEach(allowed::add);
        webhooks.put("queue_size", w.queueSize());
        webhooks.put("timeout", Durations.format(w.timeout()));
        webhooks.put("retries", w.retries());

        CoordinationConfig co = config.coordination();
        ObjectNode coordination = root.putObject("coordination");
        coordination.put("backend", co.backend() == null ? "" : RedisUrls.redact(co.backend()));
        coordination.put("replica_id", co.replicaId());
        coordination.put("lease", Durations.format(co.lease()));
        coordination.put("heartbeat", Durations.format(co.heartbeat()));
        coordination.put("on_failure", lower(co.onFailure()));
        coordination.put("timeout", Durations.format(co.timeout()));
        coordination.put("key_prefix", literal(co.keyPrefix()));

        SidecarConfig sc = config.sidecar();
        ObjectNode sidecar = root.putObject("sidecar");
        sidecar.put("metrics_port", sc.metricsPort());
        sidecar.put("metrics_bind", sc.metricsBind());
        sidecar.put("metrics_allow_public", sc.metricsAllowPublic());
        sidecar.put("drain_timeout", Durations.format(sc.drainTimeout()));

        return root;
    }

    private static void headers(ObjectNode parent, Map<String, String> headers) {
        ObjectNode n = parent.putObject("headers");
        headers.keySet().forEach(name -> n.put(name, REDACTED));
    }

    /**
     * A webhook URL up to its authority: receivers often carry their token in the path or query (Slack, Discord,
     * ntfy), so the rest is shown as {@code ***}.
     */
    static String webhookUrl(String url) {
        URI uri = URI.create(url);
        String shown = uri.getScheme() + "://" + uri.getRawAuthority();
        boolean more = (uri.getRawPath() != null && !uri.getRawPath().isEmpty() && !uri.getRawPath().equals("/"))
                || uri.getRawQuery() != null;
        return more ? shown + "/" + REDACTED : shown + "/";
    }

    /** Escapes {@code $} so that the printed value reads back unchanged through interpolation. */
    private static String literal(String value) {
        return value.replace("$", "$$");
    }

    private static String lower(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }

    private static void models(ObjectNode out, Map<String, ModelConfig> models) {
        models.forEach((name, m) -> {
            ObjectNode n = out.putObject(name);
            n.put("max_concurrent", m.maxConcurrent());
            n.put("pin", m.pin());
        });
    }
}
