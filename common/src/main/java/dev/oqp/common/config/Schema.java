package dev.oqp.common.config;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The raw tree as the binders read it: environment overrides applied ({@link EnvOverrides}), then, for a
 * file in the Python tool's schema ({@link PythonSchema}), translated ({@link PythonTranslator}).
 *
 * @param tree        the oqp tree to bind
 * @param recognition the keys that decided the schema
 * @param origins     the environment variable or Python key behind a path, for its problems
 * @param notes       what the translation did, to log once
 * @param problems    problems found before binding (an override that cannot apply, a contradiction)
 */
record Schema(JsonNode tree, PythonSchema.Recognition recognition, Map<String, String> origins, List<String> notes,
        List<String> problems) {

    /** {@code migrate}: no overrides, and a file of only shared keys is read as the Python tool read it. */
    static Schema read(JsonNode raw, Map<String, String> env, boolean migrate) {
        List<String> problems = new ArrayList<>();
        JsonNode tree = raw;
        Map<String, String> envOrigins = Map.of();
        if (!migrate) {
            EnvOverrides.Applied applied = EnvOverrides.apply(raw, env);
            tree = applied.tree();
            envOrigins = applied.origins();
            problems.addAll(applied.problems());
        }
        PythonSchema.Recognition r = PythonSchema.recognise(tree);
        boolean translate = migrate ? r.oqpKeys().isEmpty() : r.python();
        if (migrate && !r.oqpKeys().isEmpty()) {
            problems.add("the file has oqp keys (" + String.join(", ", r.oqpKeys()) + "): migrate-config converts a"
                    + " file in the Python ollama-queue-proxy's schema only");
        }
        if (migrate && (tree.isMissingNode() || tree.isNull())) {
            problems.add("the file is empty (or only comments): nothing to convert");
        }
        if (!translate || tree.isMissingNode() || tree.isNull()) {
            return new Schema(tree, r, envOrigins, List.of(), problems);
        }
        PythonTranslator.Result t = PythonTranslator.translate(tree, envOrigins);
        List<String> notes = new ArrayList<>();
        notes.add("read as the Python ollama-queue-proxy's schema" + (r.pythonKeys().isEmpty() ? ""
                : " (it has " + String.join(", ", r.pythonKeys()) + ")") + "; `ollama-queue-proxy migrate-config FILE`"
                + " prints the equivalent oqp file");
        notes.addAll(t.notes());
        problems.addAll(t.problems());
        return new Schema(t.tree(), r, t.origins(), notes, problems);
    }

    /** The last line of a refused file mixing the schemas. */
    static String mixedLine(PythonSchema.Recognition r) {
        return "this file mixes the Python ollama-queue-proxy's schema (" + String.join(", ", r.pythonKeys())
                + ") with oqp's (" + String.join(", ", r.oqpKeys()) + "); it is read as oqp's: write it in one schema"
                + " (`ollama-queue-proxy migrate-config FILE` converts a file in the Python tool's schema)";
    }
}
