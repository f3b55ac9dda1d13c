package dev.oqp.common.config;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * {@code OQP_SECTION__KEY=value} environment overrides, applied to the file's raw tree before anything reads
 * it, so they work for both schemas and win over the file. {@code __} nests, a single {@code _} stays in the
 * name, the rest of the name is matched without regard to case; a numeric segment is a list index (the
 * current size appends, beyond it is a problem). Only variables whose first segment is a top-level section
 * of either schema are overrides ({@code OQP_CONFIG}, {@code OQP_WEBHOOK_SECRET} are not). Values go in as
 * text, literally: a {@code $} in a value is not interpolated (it is written as {@code $$}).
 */
final class EnvOverrides {
    private static final String PREFIX = "OQP_";
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    /**
     * The tree with the overrides applied, the variable behind each overridden path
     * ({@code ollama.hosts[0].url} → {@code OQP_OLLAMA__HOSTS__0__URL}) and the variables that could not apply.
     */
    record Applied(JsonNode tree, Map<String, String> origins, List<String> problems) {
    }

    private EnvOverrides() {
    }

    /** The sections an override may start with: oqp's and the Python tool's. */
    static Set<String> sections() {
        Set<String> out = new TreeSet<>(Node.keyNames(ConfigLoader.Key.class));
        out.addAll(PythonSchema.PYTHON_SECTIONS);
        return out;
    }

    static Applied apply(JsonNode tree, Map<String, String> env) {
        Set<String> sections = sections();
        List<String> names = new ArrayList<>();
        for (String name : env.keySet()) {
            if (name.startsWith(PREFIX)) {
                String first = name.substring(PREFIX.length()).split("__", -1)[0].toLowerCase(Locale.ROOT);
                if (sections.contains(first)) {
                    names.add(name);
                }
            }
        }
        Map<String, String> origins = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        if (names.isEmpty()) {
            return new Applied(tree, origins, problems);
        }
        names.sort(BY_SEGMENTS);
        ObjectNode root;
        if (tree == null || tree.isMissingNode() || tree.isNull()) {
            root = NODES.objectNode();
        } else if (tree.isObject()) {
            root = (ObjectNode) tree.deepCopy();
        } else {
            return new Applied(tree, origins, problems); // not a map: the loader reports that
        }
        for (String name : names) {
            // On a copy: a variable that cannot apply leaves nothing behind (not even an empty list it created).
            ObjectNode attempt = root.deepCopy();
            String problem = apply(attempt, name, env.get(name), origins);
            if (problem != null) {
                problems.add(name + ": " + problem);
            } else {
                root = attempt;
            }
        }
        return new Applied(root, origins, problems);
    }

    /** Sets one variable's value in {@code root}; returns the problem, or null. */
    private static String apply(ObjectNode root, String name, String value, Map<String, String> origins) {
        String[] segments = name.substring(PREFIX.length()).toLowerCase(Locale.ROOT).split("__", -1);
        JsonNode current = root;
        String path = "";
        for (int i = 0; i < segments.length; i++) {
            String segment = segments[i];
            boolean last = i == segments.length - 1;
            boolean nextIsIndex = !last && isIndex(segments[i + 1]);
            if (segment.isEmpty()) {
                return "an empty part in the name (expected: SECTION__KEY, parts separated by a double underscore)";
            }
            JsonNode child;
            if (current.isObject()) {
                if (isIndex(segment)) {
                    return (path.isEmpty() ? "the top level" : path) + " is a map, not a list (expected: a key name, got "
                            + segment + ")";
                }
                ObjectNode object = (ObjectNode) current;
                String key = existingKey(object, segment);
                path = path.isEmpty() ? key : path + "." + key;
                if (last) {
                    object.put(key, literal(value));
                    origins.put(path, name);
                    return null;
                }
                child = object.get(key);
                if (child == null || child.isNull()) {
                    child = nextIsIndex ? NODES.arrayNode() : NODES.objectNode();
                    object.set(key, child);
                }
            } else {
                ArrayNode array = (ArrayNode) current;
                if (!isIndex(segment)) {
                    return path + " is a list (expected: an index such as " + path.toUpperCase(Locale.ROOT)
                            .replace(".", "__") + "__0__…, got " + segment + ")";
                }
                int index = segment.length() > 6 ? Integer.MAX_VALUE : Integer.parseInt(segment);
                if (index > array.size()) {
                    return "index " + segment + " is beyond the end of " + path + " (it has " + array.size()
                            + (array.size() == 1 ? " entry" : " entries") + "; index " + array.size() + " adds one)";
                }
                path = path + "[" + index + "]";
                if (last) {
                    if (index == array.size()) {
                        array.add(literal(value));
                    } else {
                        array.set(index, literal(value));
                    }
                    origins.put(path, name);
                    return null;
                }
                if (index == array.size()) {
                    array.add(nextIsIndex ? NODES.arrayNode() : NODES.objectNode());
                }
                child = array.get(index);
            }
            if (!child.isContainerNode()) {
                return path + " holds a single value in the file, not a " + (nextIsIndex ? "list" : "map");
            }
            if (nextIsIndex != child.isArray()) {
                return path + " is a " + (child.isArray() ? "list" : "map") + " (expected: "
                        + (child.isArray() ? "an index" : "a key name") + " after it)";
            }
            current = child;
        }
        return null;
    }

    /** The key of {@code object} equal to {@code lower} ignoring case (so a header keeps its spelling), else it. */
    private static String existingKey(ObjectNode object, String lower) {
        for (Iterator<String> it = object.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (key.equalsIgnoreCase(lower)) {
                return key;
            }
        }
        return lower;
    }

    private static JsonNode literal(String value) {
        return NODES.textNode(value.replace("$", "$$"));
    }

    private static boolean isIndex(String segment) {
        return !segment.isEmpty() && segment.chars().allMatch(c -> c >= '0' && c <= '9');
    }

    /** Segment by segment, indices numerically, so that index 2 is applied before 10 (and 0 before 1). */
    private static final Comparator<String> BY_SEGMENTS = (a, b) -> {
        String[] x = a.toLowerCase(Locale.ROOT).split("__", -1);
        String[] y = b.toLowerCase(Locale.ROOT).split("__", -1);
        for (int i = 0; i < Math.min(x.length, y.length); i++) {
            int c = isIndex(x[i]) && isIndex(y[i]) && x[i].length() < 10 && y[i].length() < 10
                    ? Integer.compare(Integer.parseInt(x[i]), Integer.parseInt(y[i])) : x[i].compareTo(y[i]);
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(x.length, y.length);
    };
}
