package dev.oqp.common.config;

import java.util.List;
import java.util.Objects;

/**
 * Client authentication in the queue proxy ({@code auth:}).
 *
 * @param enabled   default true when keys are listed, else false; true requires at least one key
 * @param keys      unique client ids and distinct secrets; default empty
 * @param rateLimit failed key checks per client IP
 */
public record AuthConfig(boolean enabled, List<KeyConfig> keys, RateLimitConfig rateLimit) {

    public AuthConfig {
        keys = List.copyOf(keys);
        Objects.requireNonNull(rateLimit, "rateLimit");
        if (enabled && keys.isEmpty()) {
            throw new IllegalArgumentException("enabled: true but no keys (expected: at least one key)");
        }
    }
}
