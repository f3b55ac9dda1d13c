package dev.oqp.common.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A YAML value with its path, bound by hand so that every problem names where it is. Scalar
 * accessors return {@code null} both when the value is absent (or YAML null) and when it is
 * invalid; in the latter case a problem has been recorded. Use {@link #absent()} to tell them apart.
 */
final class Node {

    /** Problems and the environment of one load, and the mappings it opened (to find keys never bound). */
    static final class Context {
        final Map<String, String> env;
        final List<String> problems = new ArrayList<>();
        private final List<Mapping<?>> mappings = new ArrayList<>();
        /**
         * Where a value came from when not from the key of that name in the file: an environment override
         * ({@code OQP_PROXY__PORT}) or the Python tool's key it was translated from; named in its problems.
         */
        private final Map<String, String> origins = new LinkedHashMap<>();

        Context(Map<String, String> env) {
            this.env = env;
        }

        void origins(Map<String, String> more) {
            origins.putAll(more);
        }

        void problem(String path, String message) {
            String origin = origins.get(path);
            String where = origin == null ? path : path + " (from " + origin + ")";
            problems.add(path.isEmpty() ? message : where + ": " + message);
        }

        /** A key that should not be there, naming the variables that set it or a key under it. */
        void unknownKey(String path, String message) {
            List<String> from = Schema.originsUnder(origins, path);
            problems.add(path + (from.isEmpty() ? "" : " (from " + String.join(", ", from) + ")") + ": " + message);
        }

        /**
         * Fails when a binder accepted a key it never read: such a key would be taken from the file and silently
         * ignored. A bug of the loader, not of the file, so it is thrown instead of reported.
         */
        void requireEveryKeyBound() {
            List<String> unbound = new ArrayList<>();
            for (Mapping<?> m : mappings) {
                m.unread.forEach(key -> unbound.add(m.parent.childPath(keyName(key))));
            }
            if (!unbound.isEmpty()) {
                throw new IllegalStateException("keys accepted but never bound: " + String.join(", ", unbound));
            }
        }
    }

    final Context ctx;
    final JsonNode json;
    final String path;

    Node(Context ctx, JsonNode json, String path) {
        this.ctx = ctx;
        this.json = json;
        this.path = path;
    }

    boolean absent() {
        return json == null || json.isNull() || json.isMissingNode();
    }

    void problem(String message) {
        ctx.problem(path, message);
    }

    String childPath(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    static String kind(JsonNode n) {
        if (n.isObject()) {
            return "a map";
        } else if (n.isArray()) {
            return "a list";
        } else if (n.isBoolean()) {
            return "a boolean";
        } else if (n.isNumber()) {
            return "a number";
        } else if (n.isTextual()) {
            return "a string";
        }
        return "null";
    }

    /**
     * A map with a closed set of keys: the constants of {@code keys}, spelt in lowercase, in their order. Unknown
     * keys are reported; absent or wrong type gives an empty mapping. Every key of a map (or of an absent one)
     * must then be read through {@link Mapping#get}, see {@link Context#requireEveryKeyBound()}; a value of the
     * wrong type has no keys to bind.
     */
    <K extends Enum<K>> Mapping<K> mapping(Class<K> keys) {
        List<String> allowed = keyNames(keys);
        Map<String, JsonNode> fields = new LinkedHashMap<>();
        if (!absent()) {
            if (!json.isObject()) {
                problem("expected a map, got " + kind(json));
            } else {
                for (Map.Entry<String, JsonNode> e : json.properties()) {
                    if (allowed.contains(e.getKey())) {
                        fields.put(e.getKey(), e.getValue());
                    } else {
                        String key = childPath(e.getKey());
                        String replacement = PythonSchema.replacement(key);
                        ctx.unknownKey(key, replacement != null ? "unknown key, " + replacement
                                : "unknown key (expected one of: " + String.join(", ", allowed) + ")");
                    }
                }
            }
        }
        Mapping<K> mapping = new Mapping<>(this, keys, fields);
        if (absent() || json.isObject()) {
            ctx.mappings.add(mapping);
        }
        return mapping;
    }

    /** A map with free keys, in file order; absent or wrong type gives an empty map. */
    Map<String, Node> entries() {
        Map<String, Node> out = new LinkedHashMap<>();
        if (!absent()) {
            if (!json.isObject()) {
                problem("expected a map, got " + kind(json));
            } else {
                json.properties().forEach(e -> out.put(e.getKey(), new Node(ctx, e.getValue(), childPath(e.getKey()))));
            }
        }
        return out;
    }

    /** The elements of a list; absent or wrong type gives an empty list. */
    List<Node> elements() {
        List<Node> out = new ArrayList<>();
        if (!absent()) {
            if (!json.isArray()) {
                problem("expected a list, got " + kind(json));
            } else {
                for (int i = 0; i < json.size(); i++) {
                    out.add(new Node(ctx, json.get(i), path + "[" + i + "]"));
                }
            }
        }
        return out;
    }

    /** True when the value is present but is not a list (the problem is reported by {@link #elements()}). */
    boolean isList() {
        return !absent() && json.isArray();
    }

    /**
     * A string value, interpolated. Whole numbers are taken as their digits; booleans and fractions are
     * refused with a hint to quote them, because YAML has already changed their spelling ({@code yes} is true).
     */
    String string() {
        if (absent()) {
            return null;
        }
        if (json.isTextual()) {
            return interpolated();
        }
        if (json.isIntegralNumber()) {
            return json.asText();
        }
        if (json.isBoolean() || json.isNumber()) {
            problem("expected a string, got " + kind(json) + " (quote the value)");
        } else {
            problem("expected a string, got " + kind(json));
        }
        return null;
    }

    /** The text of any scalar, strings interpolated; containers are a problem. */
    private String scalarText(String expected) {
        if (json.isTextual()) {
            return interpolated();
        }
        if (json.isValueNode()) {
            return json.asText();
        }
        problem("expected " + expected + ", got " + kind(json));
        return null;
    }

    private String interpolated() {
        List<String> found = new ArrayList<>();
        String out = Interpolator.interpolate(json.textValue(), ctx.env, found);
        found.forEach(this::problem);
        return out;
    }

    Integer integer(int min, int max) {
        if (absent()) {
            return null;
        }
        String text = scalarText("an integer");
        if (text == null) {
            return null;
        }
        String range = max == Integer.MAX_VALUE ? ">= " + min : min + "-" + max;
        if (!text.trim().matches("-?\\d+") || (json.isNumber() && !json.isIntegralNumber())) {
            problem(show(text) + " (expected: an integer " + range + ")");
            return null;
        }
        long value;
        try {
            value = Long.parseLong(text.trim());
        } catch (NumberFormatException e) {
            value = Long.MAX_VALUE;
        }
        if (value < min || value > max) {
            problem(text.trim() + " (expected: " + range + ")");
            return null;
        }
        return (int) value;
    }

    /** A duration; zero is allowed only when {@code allowZero}; negative never. */
    Duration duration(boolean allowZero) {
        if (absent()) {
            return null;
        }
        String text = scalarText("a duration");
        if (text == null) {
            return null;
        }
        Duration d;
        try {
            d = Durations.parse(text);
        } catch (IllegalArgumentException e) {
            problem(e.getMessage());
            return null;
        }
        if (d.isNegative() || (!allowZero && d.isZero())) {
            problem(text.trim() + " (expected: " + (allowZero ? ">= 0" : "> 0") + ")");
            return null;
        }
        return d;
    }

    /** A positive size in bytes. */
    Long size() {
        if (absent()) {
            return null;
        }
        String text = scalarText("a size");
        if (text == null) {
            return null;
        }
        long bytes;
        try {
            bytes = Sizes.parse(text);
        } catch (IllegalArgumentException e) {
            problem(e.getMessage());
            return null;
        }
        if (bytes <= 0) {
            problem(text.trim() + " (expected: > 0)");
            return null;
        }
        return bytes;
    }

    Boolean bool() {
        if (absent()) {
            return null;
        }
        if (json.isBoolean()) {
            return json.booleanValue();
        }
        String text = scalarText("a boolean");
        if (text == null) {
            return null;
        }
        if (json.isTextual() && (text.equalsIgnoreCase("true") || text.equalsIgnoreCase("false"))) {
            return Boolean.valueOf(text.toLowerCase(Locale.ROOT));
        }
        problem(show(text) + " (expected: true or false)");
        return null;
    }

    /** One of the constants of {@code type}, written in lowercase (matched without regard to case). */
    <E extends Enum<E>> E choice(Class<E> type) {
        if (absent()) {
            return null;
        }
        String text = scalarText("one of " + names(type));
        if (text == null) {
            return null;
        }
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(text.trim())) {
                return e;
            }
        }
        problem(show(text) + " (expected one of: " + names(type) + ")");
        return null;
    }

    static <E extends Enum<E>> String names(Class<E> type) {
        return String.join(", ", keyNames(type));
    }

    /** The YAML spelling of every constant of {@code type}, in declaration order. */
    static <E extends Enum<E>> List<String> keyNames(Class<E> type) {
        List<String> names = new ArrayList<>();
        for (E e : type.getEnumConstants()) {
            names.add(keyName(e));
        }
        return names;
    }

    /** The YAML spelling of a constant: its name in lowercase ({@code KEY_ENV} is {@code key_env}). */
    static String keyName(Enum<?> constant) {
        return constant.name().toLowerCase(Locale.ROOT);
    }

    static String show(String text) {
        return text.isEmpty() ? "\"\"" : text;
    }

    /** The fields of a closed map, keyed by the constants of {@code K}; remembers which keys were read. */
    static final class Mapping<K extends Enum<K>> {
        private final Node parent;
        private final Map<String, JsonNode> fields;
        private final Set<K> unread;

        Mapping(Node parent, Class<K> keys, Map<String, JsonNode> fields) {
            this.parent = parent;
            this.fields = fields;
            this.unread = EnumSet.allOf(keys);
        }

        Node get(K key) {
            unread.remove(key);
            String name = keyName(key);
            return new Node(parent.ctx, fields.get(name), parent.childPath(name));
        }

        boolean has(K key) {
            return !get(key).absent();
        }
    }
}
