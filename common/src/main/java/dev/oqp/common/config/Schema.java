package dev.oqp.common.config;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The raw tree as the binders read it. The file as written decides its schema ({@link PythonSchema}), so an
 * environment override cannot switch it; then the overrides are applied ({@link EnvOverrides}), each noted by
 * variable and path (never its value), and a file in the Python tool's schema is translated
 * ({@link PythonTranslator}). An override that adds a key of the other schema is a problem: in an oqp file (or
 * no file) a Python-only key is an unknown key naming its replacement, in a Python file an oqp-only key is
 * refused as mixing the schemas.
 *
 * @param tree        the oqp tree to bind
 * @param recognition the keys of the file as written that decided the schema
 * @param origins     the environment variable or Python key behind a path, for its problems
 * @param notes       what the reading did, to log once at start
 * @param attention   the notes that need the operator's attention (logged at WARN; the others at INFO)
 * @param translated  whether the file was read in the Python tool's schema
 * @param problems    problems found before binding (an override that cannot apply, a contradiction)
 */
record Schema(JsonNode tree, PythonSchema.Recognition recognition, Map<String, String> origins, List<String> notes,
        List<String> attention, boolean translated, List<String> problems) {

    /** {@code migrate}: no overrides, and a file of only shared keys is read as the Python tool read it. */
    static Schema read(JsonNode raw, Map<String, String> env, boolean migrate) {
        List<String> problems = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        List<String> attention = new ArrayList<>();
        PythonSchema.Recognition r = PythonSchema.recognise(raw);
        boolean empty = raw.isMissingNode() || raw.isNull();
        boolean translate = !empty && (migrate ? r.oqpKeys().isEmpty() : r.python());
        if (migrate && !r.oqpKeys().isEmpty()) {
            problems.add("the file has oqp keys (" + String.join(", ", r.oqpKeys()) + "): migrate-config converts a"
                    + " file in the Python ollama-queue-proxy's schema only");
        }
        if (migrate && empty) {
            problems.add("the file is empty (or only comments): nothing to convert");
        }
        if (!migrate && !empty && raw.size() > 0 && r.pythonKeys().isEmpty() && r.oqpKeys().isEmpty()) {
            notes.add(SHARED_KEYS_NOTE);
            attention.add(SHARED_KEYS_NOTE);
        }
        JsonNode tree = translate ? AuthTranslator.literalKeys(raw) : raw;
        Map<String, String> envOrigins = Map.of();
        List<String> overrideNotes = new ArrayList<>();
        if (!migrate) {
            EnvOverrides.Applied applied = EnvOverrides.apply(tree, env);
            tree = applied.tree();
            envOrigins = applied.origins();
            problems.addAll(applied.problems());
            envOrigins.forEach((path, variable) -> overrideNotes.add("environment override " + variable + " set "
                    + path + " (its value is not shown)"));
            if (translate) {
                for (String key : PythonSchema.recognise(tree).oqpKeys()) {
                    for (String variable : originsUnder(envOrigins, key)) {
                        problems.add(key + " (from " + variable + "): a key of oqp's schema, refused in a file in the"
                                + " Python ollama-queue-proxy's schema (it has " + String.join(", ", r.pythonKeys())
                                + "): override a key of the Python tool's schema, or convert the file"
                                + " (`ollama-queue-proxy migrate-config FILE`) and override oqp's keys");
                    }
                }
            }
        }
        attention.addAll(overrideNotes);
        if (!translate) {
            notes.addAll(overrideNotes);
            return new Schema(tree, r, envOrigins, notes, attention, false, problems);
        }
        PythonTranslator.Result t = PythonTranslator.translate(tree, envOrigins, migrate);
        notes.add("read as the Python ollama-queue-proxy's schema" + (r.pythonKeys().isEmpty() ? ""
                : " (it has " + String.join(", ", r.pythonKeys()) + ")") + (migrate ? ""
                        : "; `ollama-queue-proxy migrate-config FILE` prints the equivalent oqp file"));
        notes.addAll(t.notes());
        notes.addAll(overrideNotes);
        attention.addAll(0, t.attention());
        problems.addAll(t.problems());
        return new Schema(t.tree(), r, t.origins(), notes, attention, true, problems);
    }

    /** The note of a file with content but no key only one schema has. */
    static final String SHARED_KEYS_NOTE = "read in oqp's schema: the file has only keys both schemas share. Where"
            + " oqp's defaults differ from the Python ollama-queue-proxy's: model management routes are open when auth"
            + " is off (proxy.allow_model_management: true), routing.strategy is model_aware, the in-memory embedding"
            + " cache is on, keep_alive is not injected, the dashboard is on. For a file written for the Python tool,"
            + " `ollama-queue-proxy migrate-config FILE` prints an oqp file that keeps the Python tool's defaults";

    /** The variables that set {@code path} or a key under it ({@code services} → {@code services[0].listen}). */
    static List<String> originsUnder(Map<String, String> origins, String path) {
        List<String> out = new ArrayList<>();
        origins.forEach((p, variable) -> {
            if (p.equals(path) || p.startsWith(path + ".") || p.startsWith(path + "[")) {
                out.add(variable);
            }
        });
        return out;
    }

    /** The last line of a refused file mixing the schemas. */
    static String mixedLine(PythonSchema.Recognition r) {
        return "this file mixes the Python ollama-queue-proxy's schema (" + String.join(", ", r.pythonKeys())
                + ") with oqp's (" + String.join(", ", r.oqpKeys()) + "); it is read as oqp's: write it in one schema"
                + " (`ollama-queue-proxy migrate-config FILE` converts a file in the Python tool's schema)";
    }
}
