package dev.oqp.common.config;

import java.util.List;
import java.util.Objects;

/**
 * Client authentication in the queue proxy ({@code auth:}).
 *
 * @param enabled   default true when keys are listed, else false; true requires at least one key
 * @param keys      unique client ids and distinct secrets; default empty
 * @param rateLimit failed key checks per client IP
 * @param maxHeaderClients with auth off, how many distinct {@code X-Client-ID} values not named in the file get an
 *                  identity of their own (fairness, caps, usage, metrics); later ones share one pooled identity;
 *                  0 = the header is ignored; default 32
 */
public record AuthConfig(boolean enabled, List<KeyConfig> keys, RateLimitConfig rateLimit, int maxHeaderClients) {

    public static final int DEFAULT_MAX_HEADER_CLIENTS = 32;

    public AuthConfig {
        keys = List.copyOf(keys);
        Objects.requireNonNull(rateLimit, "rateLimit");
        Checks.range("maxHeaderClients", maxHeaderClients, 0, 10_000);
        if (enabled && keys.isEmpty()) {
            throw new IllegalArgumentException("enabled: true but no keys (expected: at least one key)");
        }
    }

    /** Auth with the default bound on {@code X-Client-ID} identities. */
    public AuthConfig(boolean enabled, List<KeyConfig> keys, RateLimitConfig rateLimit) {
        this(enabled, keys, rateLimit, DEFAULT_MAX_HEADER_CLIENTS);
    }
}
