package dev.oqp.common.config;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Tells the Python ollama-queue-proxy's schema (0.2 to 0.5) from oqp's by the keys only one of them has, and
 * names oqp's replacement of each Python-only key. A file with Python-only keys and no oqp-only key is
 * translated ({@link PythonTranslator}); a file with any oqp-only key is read as oqp, and its Python keys are
 * unknown keys naming their replacement. A file of only shared keys is read as oqp.
 *
 * <p>Paths are written with {@code []} for any list index.
 */
final class PythonSchema {

    /** Keys only the Python tool has, each with what an oqp file writes instead. */
    static final Map<String, String> PYTHON_ONLY = Map.ofEntries(
            Map.entry("client_injection", "use services[] (listen, bind, allow_public, client)"),
            Map.entry("dashboard", "use admin.dashboard (true or false)"),
            Map.entry("proxy.max_request_body_mb", "use proxy.max_body (e.g. 50MiB)"),
            Map.entry("ollama.hosts[].model_sync_interval", "use ollama.model_sync_interval (e.g. 30s), one for all hosts"),
            Map.entry("queue.max_queued_mb", "use queue.max_queued_bytes (e.g. 512MiB)"),
            Map.entry("routing.model_poll_timeout", "remove it (no equivalent: a poll times out after its interval,"
                    + " between 1s and 5s)"),
            Map.entry("auth.keys[].management", "use scope: management"),
            Map.entry("auth.rate_limit.window_seconds", "use auth.rate_limit.window (e.g. 60s)"),
            Map.entry("webhooks.enabled", "use webhooks.endpoints (an endpoint listed is enabled)"),
            Map.entry("webhooks.url", "use webhooks.endpoints[].url"),
            Map.entry("webhooks.events", "use webhooks.endpoints[].events"),
            Map.entry("embedding_cache.connect_timeout", "use embedding_cache.timeout (e.g. 250ms); oqp connects in"
                    + " the background"));

    /** Keys only oqp has: one of them makes a file oqp's. */
    static final List<String> OQP_ONLY = List.of(
            "services", "admin", "sidecar", "coordination",
            "proxy.allow_public", "proxy.max_body", "proxy.trusted_proxies",
            "ollama.hosts[].max_concurrent", "ollama.hosts[].headers", "ollama.connect_timeout",
            "ollama.model_sync_interval",
            "queue.aging", "queue.max_queued_bytes", "queue.paused", "queue.early_headers_after", "queue.heartbeat",
            "auth.keys[].models", "auth.keys[].key_sha256", "auth.keys[].requests_per_minute", "auth.keys[].early_headers",
            "auth.keys[].tokens_per_minute", "auth.keys[].tokens_per_day", "auth.max_header_clients",
            "auth.rate_limit.window",
            "routing.protect_cold_loads",
            "embedding_cache.max_entries", "embedding_cache.max_memory", "embedding_cache.timeout",
            "embedding_cache.partition", "embedding_cache.required",
            "logging.access_log",
            "webhooks.endpoints", "webhooks.secret", "webhooks.queue_size", "webhooks.timeout", "webhooks.retries");

    /** The two sections only the Python tool has, for environment overrides. */
    static final List<String> PYTHON_SECTIONS = List.of("client_injection", "dashboard");

    private PythonSchema() {
    }

    /** Which schema a raw tree is written in, and the keys that decided it. */
    record Recognition(List<String> pythonKeys, List<String> oqpKeys) {
        boolean python() {
            return !pythonKeys.isEmpty() && oqpKeys.isEmpty();
        }

        boolean mixed() {
            return !pythonKeys.isEmpty() && !oqpKeys.isEmpty();
        }
    }

    static Recognition recognise(JsonNode tree) {
        List<String> python = new ArrayList<>();
        PYTHON_ONLY.keySet().stream().sorted().forEach(p -> python.addAll(present(tree, p)));
        List<String> oqp = new ArrayList<>();
        OQP_ONLY.forEach(p -> oqp.addAll(present(tree, p)));
        return new Recognition(python, oqp);
    }

    /** What an oqp file writes instead of the Python key at {@code path} ({@code auth.keys[2].management}). */
    static String replacement(String path) {
        return PYTHON_ONLY.get(path.replaceAll("\\[\\d+]", "[]"));
    }

    /** The concrete paths ({@code ollama.hosts[1].model_sync_interval}) where the key {@code pattern} is written. */
    static List<String> present(JsonNode tree, String pattern) {
        List<String> found = new ArrayList<>();
        walk(tree, pattern.split("\\."), 0, "", found);
        return found;
    }

    private static void walk(JsonNode node, String[] parts, int i, String path, List<String> found) {
        if (node == null || !node.isObject()) {
            return;
        }
        boolean list = parts[i].endsWith("[]");
        String name = list ? parts[i].substring(0, parts[i].length() - 2) : parts[i];
        JsonNode child = node.get(name);
        if (child == null) {
            return;
        }
        String childPath = path.isEmpty() ? name : path + "." + name;
        if (i == parts.length - 1) {
            found.add(childPath);
        } else if (list) {
            if (child.isArray()) {
                for (int k = 0; k < child.size(); k++) {
                    walk(child.get(k), parts, i + 1, childPath + "[" + k + "]", found);
                }
            }
        } else {
            walk(child, parts, i + 1, childPath, found);
        }
    }
}
