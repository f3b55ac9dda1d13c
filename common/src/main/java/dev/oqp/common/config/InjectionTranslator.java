package dev.oqp.common.config;

import java.util.HashSet;
import java.util.Set;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The Python tool's {@code client_injection} as oqp {@code services[]}: one service per listener, named
 * {@code <inject_as>-<listen_port>} (or {@code injection-<listen_port>}), with {@code listen}, {@code bind},
 * {@code allow_public} (the section's {@code allow_public_injection}), {@code client} ({@code inject_as}) and
 * {@code max_body} (the file's {@code proxy.max_request_body_mb}, which the Python tool applied to its injection
 * listeners too; not set: its default, 50 MiB, oqp's main-port default as well).
 */
final class InjectionTranslator {
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    private InjectionTranslator() {
    }

    static void listeners(PythonTranslator t, JsonNode p) {
        if (p.isMissingNode() || p.isNull()) {
            return;
        }
        PythonTranslator.Keys keys = t.new Keys("client_injection", p, "listeners", "allow_public_injection");
        JsonNode allowPublic = p.has("allow_public_injection") ? t.lax().bool(p.get("allow_public_injection")) : null;
        JsonNode listeners = p.get("listeners");
        if (listeners != null && listeners.isArray() && !listeners.isEmpty()) {
            ArrayNode services = t.root().putArray("services");
            Set<String> names = new HashSet<>();
            for (int i = 0; i < listeners.size(); i++) {
                JsonNode l = listeners.get(i);
                String from = "client_injection.listeners[" + i + "]";
                String at = "services[" + i + "]";
                if (!l.isObject()) {
                    services.add(l);
                    continue;
                }
                PythonTranslator.Keys listenerKeys = t.new Keys(from, l, "listen_port", "inject_as", "bind");
                ObjectNode s = services.addObject();
                JsonNode port = t.lax().integer(l.get("listen_port"));
                String client = l.path("inject_as").isTextual() ? l.get("inject_as").textValue() : null;
                String name = (client == null ? "injection" : client) + "-" + (port == null ? i : port.asText());
                if (!ID.matcher(name).matches() || !names.add(name)) {
                    name = "injection-" + i;
                    names.add(name);
                }
                s.put("name", name);
                if (port != null) {
                    t.put(s, "listen", at + ".listen", from + ".listen_port", port);
                }
                if (l.has("bind")) {
                    t.put(s, "bind", at + ".bind", from + ".bind", l.get("bind"));
                }
                if (allowPublic != null) {
                    t.put(s, "allow_public", at + ".allow_public", "client_injection.allow_public_injection",
                            allowPublic);
                }
                JsonNode maxBody = t.root().path("proxy").get("max_body");
                if (maxBody != null) {
                    t.put(s, "max_body", at + ".max_body", "proxy.max_request_body_mb", maxBody);
                } else {
                    s.put("max_body", Sizes.format(ProxyConfig.DEFAULT_MAX_BODY));
                }
                if (l.has("inject_as")) {
                    t.put(s, "client", at + ".client", from + ".inject_as", l.get("inject_as"));
                }
                t.note(from + " → " + at + " (name " + name + ", listen, bind, client; allow_public from"
                        + " client_injection.allow_public_injection; max_body from proxy.max_request_body_mb)");
                listenerKeys.unknown();
            }
        } else if (listeners != null && !listeners.isArray()) {
            t.root().set("services", listeners);
        }
        keys.unknown();
    }
}
