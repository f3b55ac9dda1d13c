package dev.oqp.common.config;

import java.util.List;

/**
 * A validated configuration and the notes of its reading, logged at start and printed by {@code --check-config}:
 * for a file in the Python tool's schema, each translated key and each key without an equivalent; for a file of
 * only shared keys, the defaults that differ from the Python tool's; each environment override applied, by
 * variable and path.
 */
public record LoadedConfig(OqpConfig config, List<String> notes) {
    public LoadedConfig {
        notes = List.copyOf(notes);
    }
}
