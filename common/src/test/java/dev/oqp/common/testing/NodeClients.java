package dev.oqp.common.testing;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Runs the Node.js scripts of {@code clients/} (the official ollama and openai npm clients, playwright-core)
 * for the Java tests. The packages are installed with {@code npm ci} from the committed lockfile the first
 * time they are needed. Where {@code node} is absent the calling test is skipped with a message, unless
 * {@code OQP_REQUIRE_NODE=1} (set by {@code .ci/run}), which makes that a failure.
 */
public final class NodeClients {
    private static boolean installed;

    private NodeClients() {
    }

    /** What a script printed and how it ended. */
    public record Result(int exitCode, String output) {
    }

    /** The repository's {@code clients/} folder (found upwards from the working directory). */
    public static Path dir() {
        Path at = Path.of("").toAbsolutePath();
        for (Path p = at; p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("clients/package.json"))) {
                return p.resolve("clients");
            }
        }
        throw new IllegalStateException("no clients/package.json above " + at);
    }

    /** Skips (or fails, under {@code OQP_REQUIRE_NODE=1}) when there is no {@code node}; installs the packages. */
    public static synchronized void require() {
        if (find("node") == null || find("npm") == null) {
            String message = "node and npm are needed for the real-client tests (Node.js 20 or newer)";
            if ("1".equals(System.getenv("OQP_REQUIRE_NODE"))) {
                Assertions.fail(message + " (OQP_REQUIRE_NODE=1)");
            }
            Assumptions.abort(message);
        }
        if (installed) {
            return;
        }
        Path dir = dir();
        Path marker = dir.resolve("node_modules/.package-lock.json");
        try {
            if (!Files.exists(marker)
                    || Files.getLastModifiedTime(marker).compareTo(Files.getLastModifiedTime(dir.resolve("package-lock.json"))) < 0) {
                Result npm = exec(dir, List.of(find("npm"), "ci", "--no-audit", "--no-fund", "--ignore-scripts"), Map.of(), 300);
                Assertions.assertEquals(0, npm.exitCode(), "npm ci in " + dir + " failed:\n" + npm.output());
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        installed = true;
    }

    /** Runs {@code node args…} in {@code clients/} with {@code env} added; at most {@code timeoutSeconds}. */
    public static Result node(Map<String, String> env, long timeoutSeconds, String... args) {
        List<String> command = new ArrayList<>();
        command.add(find("node"));
        command.addAll(List.of(args));
        return exec(dir(), command, env, timeoutSeconds);
    }

    private static Result exec(Path dir, List<String> command, Map<String, String> env, long timeoutSeconds) {
        try {
            File log = File.createTempFile("oqp-node", ".log");
            log.deleteOnExit();
            ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(log);
            builder.environment().putAll(env);
            Process process = builder.start();
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return new Result(-1, "timed out after " + timeoutSeconds + " s\n" + Files.readString(log.toPath(), StandardCharsets.UTF_8));
            }
            return new Result(process.exitValue(), Files.readString(log.toPath(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("could not run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The path of an executable on {@code PATH}, or null. */
    public static String find(String name) {
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        for (String dir : path.split(File.pathSeparator)) {
            File candidate = new File(dir, name);
            if (candidate.canExecute()) {
                return candidate.getPath();
            }
        }
        return null;
    }
}
