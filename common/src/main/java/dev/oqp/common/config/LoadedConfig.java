package dev.oqp.common.config;

import java.util.List;

/**
 * A validated configuration and the notes of its reading, logged at start and printed by {@code --check-config}:
 * for a file in the Python tool's schema, each translated key and each key without an equivalent; for a file of
 * only shared keys, the defaults that differ from the Python tool's; each environment override applied, by
 * variable and path. {@code attention} holds the notes (also in {@code notes}) that need the operator's attention,
 * logged at WARN (the others at INFO); {@code translated} says the file was read in the Python tool's schema.
 */
public record LoadedConfig(OqpConfig config, List<String> notes, List<String> attention, boolean translated) {
    public LoadedConfig {
        notes = List.copyOf(notes);
        attention = List.copyOf(attention);
    }

    /** True when {@code note} needs the operator's attention. */
    public boolean needsAttention(String note) {
        return attention.contains(note);
    }
}
