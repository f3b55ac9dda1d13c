package dev.oqp.common.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The state one load shares between its section binders: which binary reads the file, the directory relative
 * paths are resolved against, the problems found so far and the cross-section checks.
 */
final class Binding {

    final Target target;
    final Path baseDir;
    final Node.Context ctx;
    final CrossChecks checks;

    Binding(Target target, Map<String, String> env, Path baseDir) {
        this.target = Objects.requireNonNull(target, "target");
        this.ctx = new Node.Context(Map.copyOf(Objects.requireNonNull(env, "env")));
        this.baseDir = baseDir;
        this.checks = new CrossChecks(ctx, target);
    }

    /**
     * Builds a record once its values are bound. With problems already reported a placeholder may be
     * invalid, so a failure is expected and dropped; without, it would be a loader bug and is reported.
     */
    <T> T build(String path, Supplier<T> constructor) {
        try {
            return constructor.get();
        } catch (IllegalArgumentException | NullPointerException e) {
            if (ctx.problems.isEmpty()) {
                ctx.problem(path, "invalid: " + e.getMessage());
            }
            return null;
        }
    }

    /** {@link #build} for an element of a list: added only when it could be built. */
    <T> void add(List<T> list, String path, Supplier<T> constructor) {
        T value = build(path, constructor);
        if (value != null) {
            list.add(value);
        }
    }
}
