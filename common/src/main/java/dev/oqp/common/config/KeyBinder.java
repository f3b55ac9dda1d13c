package dev.oqp.common.config;

import static dev.oqp.common.config.Values.or;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Binds one {@code auth.keys[]} entry: its client id (unique across the list), its secret (see
 * {@link KeySources}; distinct across the list), its limits and its model globs.
 */
final class KeyBinder {

    /** The keys of an entry; {@code key} to {@code key_sha256} are the names of {@link KeyConfig.Source}. */
    enum Key {
        CLIENT_ID, KEY, KEY_ENV, KEY_FILE, KEY_SHA256, MAX_PRIORITY, SCOPE, MAX_CONCURRENT, MODELS,
        REQUESTS_PER_MINUTE, TOKENS_PER_MINUTE, TOKENS_PER_DAY, DESCRIPTION, MIN_SLOTS, EARLY_HEADERS
    }

    private KeyBinder() {
    }

    /**
     * The entry, or {@code null} when it has problems. {@code clientIds} and {@code digests} (to the first path
     * that used them) collect the list's ids and secrets; the entry's path is added to {@code unresolved} when
     * its secret or digest could not be had.
     */
    static KeyConfig bind(Node element, Map<String, String> clientIds, Map<String, String> digests,
            List<String> unresolved, Binding b) {
        Node.Mapping<Key> m = element.mapping(Key.class);
        if (!element.absent() && !element.json.isObject()) {
            unresolved.add(element.path);
            return null;
        }
        String clientId = Values.uniqueId(m.get(Key.CLIENT_ID), clientIds, "client_id");
        KeySources.Secret secret = KeySources.resolve(element, m, b);
        if (secret == null) {
            unresolved.add(element.path);
        } else {
            String first = digests.putIfAbsent(secret.digest(), element.path);
            if (first != null) {
                b.ctx.problem(secret.path(), "same key as " + first + " (expected: a distinct key per client)");
            }
        }
        Tier maxPriority = or(m.get(Key.MAX_PRIORITY).choice(Tier.class), KeyConfig.DEFAULT_MAX_PRIORITY);
        Scope scope = or(m.get(Key.SCOPE).choice(Scope.class), KeyConfig.DEFAULT_SCOPE);
        int maxConcurrent = or(m.get(Key.MAX_CONCURRENT).integer(0, Integer.MAX_VALUE), KeyConfig.DEFAULT_MAX_CONCURRENT);
        int requestsPerMinute = limit(m.get(Key.REQUESTS_PER_MINUTE));
        int tokensPerMinute = limit(m.get(Key.TOKENS_PER_MINUTE));
        int tokensPerDay = limit(m.get(Key.TOKENS_PER_DAY));
        List<String> models = models(m.get(Key.MODELS));
        String description = description(m.get(Key.DESCRIPTION));
        int minSlots = minSlots(m.get(Key.MIN_SLOTS), maxConcurrent);
        boolean earlyHeaders = or(m.get(Key.EARLY_HEADERS).bool(), false);
        if (clientId == null || secret == null) {
            return null;
        }
        return b.build(secret.path(), () -> new KeyConfig(clientId, secret.source(), secret.key(), secret.digest(),
                secret.keyEnv(), secret.keyFile(), maxPriority, scope, maxConcurrent, models,
                new RateLimits(requestsPerMinute, tokensPerMinute, tokensPerDay), description, minSlots,
                earlyHeaders));
    }

    /** Slots kept for the client: a count, at most its {@code max_concurrent} when that is set. */
    private static int minSlots(Node node, int maxConcurrent) {
        int minSlots = or(node.integer(0, Integer.MAX_VALUE), 0);
        if (maxConcurrent > 0 && minSlots > maxConcurrent) {
            node.problem(minSlots + " (expected: at most max_concurrent, " + maxConcurrent + ")");
            return maxConcurrent;
        }
        return minSlots;
    }

    /** Free text of at most 200 characters without control characters; blank is the same as absent. */
    private static String description(Node node) {
        String text = node.string();
        if (text == null || text.isBlank()) {
            return null;
        }
        if (text.length() > 200 || text.chars().anyMatch(Character::isISOControl)) {
            node.problem("expected at most 200 characters of text on one line");
            return null;
        }
        return text.trim();
    }

    private static int limit(Node node) {
        return or(node.integer(0, Integer.MAX_VALUE), RateLimits.NO_LIMIT);
    }

    /** The trimmed globs; null and blank ones are problems. */
    private static List<String> models(Node node) {
        List<String> models = new ArrayList<>();
        for (Node n : node.elements()) {
            String glob = n.string();
            if (glob == null && n.absent()) {
                n.problem("expected a model name or glob, got null");
            } else if (glob != null && glob.isBlank()) {
                n.problem("\"\" (expected: a model name or glob such as llama3* or qwen2.5:7b)");
            } else if (glob != null) {
                models.add(glob.trim());
            }
        }
        return models;
    }
}
