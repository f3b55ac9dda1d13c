package dev.oqp.common.config;

import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The Python tool's {@code auth} section for {@link PythonTranslator}: {@code enabled} off when not written
 * (even with keys), each key as it is but {@code management: true} as {@code scope: management} (with the
 * Python tool's deprecation note and its conflict rule), {@code rate_limit.window_seconds} as
 * {@code rate_limit.window}. The Python tool did not interpolate: {@link #literalKeys} keeps a literal
 * {@code key} as written.
 */
final class AuthTranslator {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private AuthTranslator() {
    }

    /**
     * {@code python} with each literal {@code auth.keys[].key} escaped so that oqp's interpolation reads it back as
     * written: a {@code $} that does not start {@code ${} becomes {@code $$} ({@code pa$$w0rd} stays that), while
     * {@code ${VAR}} stays a reference. Applied to the file as written, before any environment override (whose
     * values are escaped already).
     */
    static JsonNode literalKeys(JsonNode python) {
        JsonNode keys = python.path("auth").path("keys");
        if (!keys.isArray()) {
            return python;
        }
        ObjectNode copy = (ObjectNode) python.deepCopy();
        for (JsonNode k : copy.path("auth").path("keys")) {
            if (k.isObject() && k.path("key").isTextual()) {
                ((ObjectNode) k).put("key", escapeDollars(k.get("key").textValue()));
            }
        }
        return copy;
    }

    /** {@code $} as {@code $$} unless it starts {@code ${}. */
    static String escapeDollars(String s) {
        StringBuilder out = new StringBuilder(s.length() + 4);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            out.append(c);
            if (c == '$' && (i + 1 >= s.length() || s.charAt(i + 1) != '{')) {
                out.append('$');
            }
        }
        return out.toString();
    }

    static void auth(PythonTranslator t, JsonNode p) {
        ObjectNode o = t.section("auth");
        PythonTranslator.Keys keys = t.new Keys("auth", p, "enabled", "keys", "rate_limit");
        if (p.has("enabled")) {
            t.put(o, "enabled", "auth.enabled", "auth.enabled", t.lax().bool(p.get("enabled")));
        } else {
            o.put("enabled", false);
            if (p.path("keys").size() > 0) {
                t.attention("auth.enabled: not set: false, as the Python tool read it, although keys are listed (an oqp file"
                        + " with keys turns auth on by default)");
            }
        }
        JsonNode list = p.get("keys");
        if (list != null && list.isArray()) {
            ArrayNode keysOut = o.putArray("keys");
            for (int i = 0; i < list.size(); i++) {
                JsonNode k = list.get(i);
                if (!k.isObject()) {
                    keysOut.add(k);
                    continue;
                }
                keysOut.add(key(t, k, "auth.keys[" + i + "]"));
            }
        } else if (list != null) {
            o.set("keys", list);
        }
        JsonNode rate = p.get("rate_limit");
        if (rate != null && rate.isObject()) {
            ObjectNode r = o.putObject("rate_limit");
            PythonTranslator.Keys rateKeys = t.new Keys("auth.rate_limit", rate, "max_failures", "window_seconds");
            if (rate.has("max_failures")) {
                t.put(r, "max_failures", "auth.rate_limit.max_failures", "auth.rate_limit.max_failures",
                        t.lax().integer(rate.get("max_failures")));
            }
            if (rate.has("window_seconds")) {
                t.put(r, "window", "auth.rate_limit.window", "auth.rate_limit.window_seconds",
                        t.lax().seconds(rate.get("window_seconds")));
                t.note("auth.rate_limit.window_seconds → auth.rate_limit.window (seconds)");
            }
            rateKeys.unknown();
        } else if (rate != null) {
            o.set("rate_limit", rate);
        }
        keys.unknown();
    }

    private static ObjectNode key(PythonTranslator t, JsonNode k, String at) {
        ObjectNode out = NODES.objectNode();
        PythonTranslator.Keys keys = t.new Keys(at, k, "key", "key_env", "key_file", "client_id", "description", "max_priority", "scope",
                "management", "max_concurrent");
        for (String name : List.of("client_id", "key", "key_env", "key_file", "description", "max_priority", "scope")) {
            if (k.has(name)) {
                t.copy(out, at + "." + name, name, k.get(name));
            }
        }
        if (k.has("max_concurrent")) {
            t.put(out, "max_concurrent", at + ".max_concurrent", at + ".max_concurrent", t.lax().integer(k.get("max_concurrent")));
        }
        if (k.has("management")) {
            JsonNode management = t.lax().bool(k.get("management"));
            String id = k.path("client_id").asText("?");
            if (management.isBoolean() && management.booleanValue()) {
                JsonNode scope = k.get("scope");
                if (scope != null && !scope.isNull() && !"management".equals(scope.asText())) {
                    t.problem(at + ".management: auth.keys[] entry for client_id='" + id + "' sets both management:"
                            + " true and scope: '" + scope.asText() + "', which contradict each other. `management` is"
                            + " deprecated: set scope: management on its own.");
                }
                out.put("scope", "management");
                t.origin(at + ".scope", at + ".management");
                t.attention("config.deprecated key=auth.keys[client_id=" + id + "].management — superseded by `scope:"
                        + " management`, which has been applied (" + at + ".scope: management)." + (t.migrating()
                                ? " The converted file has scope: management only."
                                : " The old key is still honoured; replace it before it is removed."));
            } else if (management.isBoolean()) {
                t.note(at + ".management: false, ignored (as the Python tool ignored it)");
            } else {
                out.set("management", management); // neither true nor false: reported as an unknown key
            }
        }
        keys.unknown();
        return out;
    }
}
