package dev.oqp.common.config;

import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The Python tool's {@code webhooks} section for {@link PythonTranslator}: {@code enabled}, {@code url} and
 * {@code events} as one endpoint ({@code webhooks.endpoints[0]}); not enabled or no URL gives none; event
 * names oqp does not know are dropped with a note (they never matched there either).
 */
final class WebhooksTranslator {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final Set<String> KNOWN_EVENTS = Set.copyOf(WebhooksConfig.EVENTS);

    private WebhooksTranslator() {
    }

    static void webhooks(PythonTranslator t, JsonNode p, Map<String, String> envOrigins) {
        PythonTranslator.Keys keys = t.new Keys("webhooks", p, "enabled", "url", "events", "allowed_hosts");
        if (p.isMissingNode() || p.isNull()) {
            return;
        }
        ObjectNode o = t.section("webhooks");
        if (p.has("allowed_hosts")) {
            t.copy(o, "webhooks.allowed_hosts", "allowed_hosts", p.get("allowed_hosts"));
        }
        JsonNode enabled = p.has("enabled") ? t.lax().bool(p.get("enabled")) : NODES.booleanNode(false);
        String url = p.path("url").isTextual() ? p.get("url").textValue() : "";
        if (!enabled.isBoolean() || !enabled.booleanValue() || url.isBlank()) {
            t.note("webhooks: " + (enabled.isBoolean() && !enabled.booleanValue() ? "not enabled" : "no url")
                    + ": no endpoint, nothing is sent");
            keys.unknown();
            return;
        }
        ObjectNode endpoint = o.putArray("endpoints").addObject();
        t.copy(endpoint, "webhooks.endpoints[0].url", "url", p.get("url"));
        t.origin("webhooks.endpoints[0].url", envOrigins.getOrDefault("webhooks.url", "webhooks.url"));
        JsonNode events = p.get("events");
        if (events != null && events.isArray()) {
            ArrayNode kept = endpoint.putArray("events");
            for (JsonNode e : events) {
                if (e.isTextual() && KNOWN_EVENTS.contains(e.textValue())) {
                    kept.add(e);
                } else {
                    t.attention("webhooks.events: " + e.asText() + " dropped (not an event name; it never matched in the"
                            + " Python tool either)");
                }
            }
            if (kept.isEmpty()) {
                o.remove("endpoints");
                t.attention("webhooks: no event left to send: no endpoint");
            }
        } else if (events != null) {
            endpoint.set("events", events);
        }
        t.note("webhooks.enabled, url, events → webhooks.endpoints[0] {url, events}");
        keys.unknown();
    }
}
