package dev.oqp.common.config;

import static dev.oqp.common.config.Values.or;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Binds the per-model settings: {@code ollama.hosts[].models} and {@code preload} (model names) and
 * {@code ollama.models} (model globs). Two names of one host that Ollama reads as the same model ({@code llama3}
 * and {@code llama3:latest}) are a problem, as is a glob where a name is needed and {@code pin} on a glob.
 */
final class ModelsBinder {

    /** The keys of a model's settings. */
    enum Key { MAX_CONCURRENT, PIN }

    private static final String NAME_RULE = "a model name such as llama3.3:70b, without spaces";

    private ModelsBinder() {
    }

    /** {@code ollama.hosts[].models}: by model name as written. */
    static Map<String, ModelConfig> hostModels(Node node) {
        Map<String, ModelConfig> out = new LinkedHashMap<>();
        Map<String, String> seen = new LinkedHashMap<>();
        node.entries().forEach((name, value) -> {
            ModelConfig settings = settings(value, true);
            if (name(value, name, seen, "ollama.models")) {
                out.put(name.trim(), settings);
            }
        });
        return out;
    }

    /** {@code ollama.hosts[].preload}: model names as written. */
    static List<String> preload(Node node) {
        List<String> out = new ArrayList<>();
        Map<String, String> seen = new LinkedHashMap<>();
        for (Node element : node.elements()) {
            String name = element.string();
            if (name == null) {
                if (element.absent()) {
                    element.problem("expected " + NAME_RULE + ", got null");
                }
            } else if (name(element, name, seen, null)) {
                out.add(name.trim());
            }
        }
        return out;
    }

    /** {@code ollama.models}: by glob as written, in file order. */
    static Map<String, ModelConfig> globs(Node node) {
        Map<String, ModelConfig> out = new LinkedHashMap<>();
        node.entries().forEach((glob, value) -> {
            ModelConfig settings = settings(value, false);
            if (glob.isBlank() || glob.chars().anyMatch(c -> c <= 0x20 || c == 0x7f)) {
                value.problem("model glob " + Node.show(glob) + " (expected: a model name or glob such as llama3.3:*)");
            } else {
                out.put(glob.trim(), settings);
            }
        });
        return out;
    }

    /** A model name (no glob, no blank); false, with a problem, when it is not one or repeats a name in {@code seen}. */
    private static boolean name(Node node, String name, Map<String, String> seen, String globsGoTo) {
        if (name.isBlank() || name.chars().anyMatch(c -> c <= 0x20 || c == 0x7f)) {
            node.problem(Node.show(name) + " (expected: " + NAME_RULE + ")");
            return false;
        }
        if (name.indexOf('*') >= 0 || name.indexOf('?') >= 0) {
            node.problem(name + " is a glob (expected: " + NAME_RULE
                    + (globsGoTo == null ? "" : "; globs go in " + globsGoTo) + ")");
            return false;
        }
        String first = seen.putIfAbsent(ModelNames.normalise(name), node.path);
        if (first != null) {
            node.problem(name + " names the same model as " + first + " (expected: one entry per model)");
            return false;
        }
        return true;
    }

    private static ModelConfig settings(Node node, boolean named) {
        Node.Mapping<Key> m = node.mapping(Key.class);
        int maxConcurrent = or(m.get(Key.MAX_CONCURRENT).integer(0, Integer.MAX_VALUE), 0);
        Node pinNode = m.get(Key.PIN);
        boolean pin = or(pinNode.bool(), false);
        if (pin && !named) {
            pinNode.problem("true on a glob (expected: pin a model by its name under ollama.hosts[].models)");
            pin = false;
        }
        return new ModelConfig(maxConcurrent, pin);
    }
}
