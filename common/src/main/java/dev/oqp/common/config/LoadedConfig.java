package dev.oqp.common.config;

import java.util.List;

/**
 * A validated configuration and the notes of its reading: for a file in the Python tool's schema, each
 * translated key with its oqp form and each key without an equivalent with why; empty for an oqp file.
 */
public record LoadedConfig(OqpConfig config, List<String> notes) {
    public LoadedConfig {
        notes = List.copyOf(notes);
    }
}
