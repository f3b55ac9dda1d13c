package dev.oqp.queue.auth;

import java.nio.file.Path;
import java.util.List;

import dev.oqp.common.config.KeyConfig;
import dev.oqp.common.config.Scope;
import dev.oqp.common.config.Tier;

/** Key entries as the config loader would produce them. */
final class Keys {

    private Keys() {
    }

    static KeyConfig inline(String clientId, String secret) {
        return new KeyConfig(clientId, KeyConfig.Source.KEY, secret, KeyConfig.sha256Hex(secret), null, null,
                Tier.NORMAL, Scope.INFERENCE, 0, List.of());
    }

    static KeyConfig digestOnly(String clientId, String secret, Tier maxPriority, Scope scope, int maxConcurrent,
            List<String> models) {
        return new KeyConfig(clientId, KeyConfig.Source.KEY_SHA256, null, KeyConfig.sha256Hex(secret), null, null,
                maxPriority, scope, maxConcurrent, models);
    }

    static KeyConfig file(String clientId, String secret, Path file) {
        return new KeyConfig(clientId, KeyConfig.Source.KEY_FILE, secret, KeyConfig.sha256Hex(secret), null, file,
                Tier.NORMAL, Scope.INFERENCE, 0, List.of());
    }
}
