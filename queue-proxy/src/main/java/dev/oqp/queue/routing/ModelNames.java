package dev.oqp.queue.routing;

/**
 * Model names compared the way Ollama matches them, for routing only (a request body is never
 * rewritten): {@code llama3}, {@code llama3:latest}, {@code library/llama3} and
 * {@code registry.ollama.ai/library/llama3:latest} all name the same model, and matching ignores case.
 *
 * <p>Rule: trim; drop an {@code @digest} suffix; add {@code :latest} when there is no tag after the last
 * {@code /}; drop a leading {@code registry.ollama.ai/}, then a leading {@code library/}; lower-case.
 * A registry host with a port ({@code host:5000/ns/m}) keeps its port: only a colon after the last slash
 * is a tag.
 */
public final class ModelNames {
    private ModelNames() {
    }

    /** The canonical form of {@code name}, or null for a null or blank name (the rule lives in common's config). */
    public static String normalise(String name) {
        return dev.oqp.common.config.ModelNames.normalise(name);
    }

    /** True when both names denote the same model. */
    public static boolean same(String a, String b) {
        String na = normalise(a);
        return na != null && na.equals(normalise(b));
    }
}
