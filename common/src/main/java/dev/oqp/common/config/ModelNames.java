package dev.oqp.common.config;

import java.util.Locale;

/**
 * Model names compared the way Ollama matches them: {@code llama3}, {@code llama3:latest}, {@code library/llama3}
 * and {@code registry.ollama.ai/library/llama3:latest} all name the same model, and matching ignores case. Used by
 * the configuration (two entries naming one model are a problem) and by routing ({@code dev.oqp.queue.routing}).
 *
 * <p>Rule: trim; drop an {@code @digest} suffix; add {@code :latest} when there is no tag after the last
 * {@code /}; drop a leading {@code registry.ollama.ai/}, then a leading {@code library/}; lower-case.
 * A registry host with a port ({@code host:5000/ns/m}) keeps its port: only a colon after the last slash
 * is a tag.
 */
public final class ModelNames {
    private static final String DEFAULT_REGISTRY = "registry.ollama.ai/";
    private static final String DEFAULT_NAMESPACE = "library/";

    private ModelNames() {
    }

    /** The canonical form of {@code name}, or null for a null or blank name. */
    public static String normalise(String name) {
        if (name == null) {
            return null;
        }
        String n = name.trim();
        if (n.isEmpty()) {
            return null;
        }
        int at = n.indexOf('@');
        if (at >= 0) {
            n = n.substring(0, at);
        }
        n = n.toLowerCase(Locale.ROOT);
        if (n.indexOf(':', n.lastIndexOf('/') + 1) < 0) {
            n = n + ":latest";
        }
        if (n.startsWith(DEFAULT_REGISTRY)) {
            n = n.substring(DEFAULT_REGISTRY.length());
        }
        if (n.startsWith(DEFAULT_NAMESPACE)) {
            n = n.substring(DEFAULT_NAMESPACE.length());
        }
        return n;
    }
}
