package dev.oqp.common.config;

import static dev.oqp.common.config.Values.or;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Binds {@code auth:}: the keys (see {@link KeyBinder}), whether auth is on (by default when keys are listed)
 * and the failed-check limit. Hands what the keys offer as identities to {@link CrossChecks}.
 */
final class AuthBinder {

    /** The keys of {@code auth:}. */
    enum Key { ENABLED, KEYS, RATE_LIMIT, MAX_HEADER_CLIENTS }

    /** The keys of {@code auth.rate_limit}. */
    enum RateLimitKey { MAX_FAILURES, WINDOW }

    private AuthBinder() {
    }

    static AuthConfig bind(Node node, Binding b) {
        Node.Mapping<Key> m = node.mapping(Key.class);
        List<KeyConfig> keys = new ArrayList<>();
        Map<String, String> clientIds = new LinkedHashMap<>();
        Map<String, String> digests = new LinkedHashMap<>();
        List<Node> elements = m.get(Key.KEYS).elements();
        List<String> unresolved = new ArrayList<>();
        for (Node element : elements) {
            KeyConfig key = KeyBinder.bind(element, clientIds, digests, unresolved, b);
            if (key != null) {
                keys.add(key);
            }
        }
        Node enabledNode = m.get(Key.ENABLED);
        Boolean explicit = enabledNode.bool();
        boolean enabled = explicit == null ? !elements.isEmpty() : explicit;
        if (Boolean.TRUE.equals(explicit) && elements.isEmpty()) {
            enabledNode.problem("true but auth.keys is empty (expected: at least one key)");
            enabled = false;
        }
        RateLimitConfig rateLimit = rateLimit(m.get(Key.RATE_LIMIT), b);
        int headerClients = or(m.get(Key.MAX_HEADER_CLIENTS).integer(0, 10_000), AuthConfig.DEFAULT_MAX_HEADER_CLIENTS);
        boolean on = enabled;
        b.checks.auth(new CrossChecks.AuthFacts(on, clientIds.keySet(), digests.keySet(), unresolved.isEmpty()));
        return b.build(node.path, () -> new AuthConfig(on, keys, rateLimit, headerClients));
    }

    private static RateLimitConfig rateLimit(Node node, Binding b) {
        Node.Mapping<RateLimitKey> r = node.mapping(RateLimitKey.class);
        int maxFailures = or(r.get(RateLimitKey.MAX_FAILURES).integer(1, Integer.MAX_VALUE),
                RateLimitConfig.DEFAULT.maxFailures());
        Duration window = or(r.get(RateLimitKey.WINDOW).duration(false), RateLimitConfig.DEFAULT.window());
        return b.build(node.path, () -> new RateLimitConfig(maxFailures, window));
    }
}
