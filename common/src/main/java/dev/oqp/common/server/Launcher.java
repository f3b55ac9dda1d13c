package dev.oqp.common.server;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import dev.oqp.common.config.ConfigException;
import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.ConfigPrinter;
import dev.oqp.common.config.LoadedConfig;
import dev.oqp.common.config.LoggingConfig;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.Target;
import dev.oqp.common.log.Logging;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The start-up sequence both binaries share: command line, configuration (every problem listed, exit 2),
 * {@code --check-config}, logging, start (exit 1 naming what failed), the ready line and the redacted
 * effective configuration. Exit status: 0 once the server runs or after a valid check, 1 on a run-time
 * failure such as a port in use, 2 on a bad command line or an invalid configuration.
 */
public final class Launcher {

    /** A started server as the launcher sees it. */
    public interface App {
        /** {@code name bind:port …} of every listener, for the ready line. */
        List<String> listeners();

        /** Runs {@code action} once the server has stopped. */
        void whenStopped(Runnable action);

        /** Stops the server (used when start failed half-way). */
        void stop() throws Exception;
    }

    /**
     * Builds and starts the server for a valid configuration; throws naming what could not start (a
     * {@link ConfigException} for a configuration problem found only at start: exit 2 as for the file's). {@code file}
     * is the file it was read from (null on embedded defaults) and {@code env} the environment its
     * {@code ${VAR}} were read from, for a binary that reloads it.
     */
    @FunctionalInterface
    public interface Starter {
        App start(OqpConfig config, Path file, Map<String, String> env, Logger log) throws Exception;
    }

    /**
     * What differs between the binaries.
     *
     * @param binary        the binary's name, for messages
     * @param target        which part of the file the binary acts on
     * @param configEnv     environment variables naming the file, in order
     * @param noConfig      null when the binary runs on embedded defaults without a file; else the message
     *                      printed (exit 2) when no file is named
     * @param versionSource a class of the binary's jar, for {@code --version}
     */
    public record Binary(String binary, Target target, List<String> configEnv, String noConfig, Class<?> versionSource) {
    }

    private Launcher() {
    }

    /** Everything but the JVM exit; returns the exit status. */
    public static int run(Binary binary, Starter starter, String[] args, Map<String, String> env, PrintStream out,
                          PrintStream err, long startNanos) {
        String name = binary.binary();
        CommandLine commandLine;
        try {
            commandLine = CommandLine.parse(args, env, binary.configEnv());
        } catch (CommandLine.UsageException e) {
            err.println(name + ": " + e.getMessage());
            err.print(CommandLine.usage(name, binary.configEnv(), migrates(binary)));
            return 2;
        }
        if (commandLine.migrate() != null) {
            if (!migrates(binary)) {
                err.println(name + ": unknown argument: migrate-config (the queue proxy converts the Python tool's files)");
                err.print(CommandLine.usage(name, binary.configEnv(), false));
                return 2;
            }
            return migrate(name, commandLine.migrate(), env, out, err);
        }
        if (commandLine.help()) {
            out.print(CommandLine.usage(name, binary.configEnv(), migrates(binary)));
            return 0;
        }
        if (commandLine.version()) {
            out.println(name + " " + CommandLine.version(binary.versionSource()));
            return 0;
        }
        if (commandLine.config() == null && binary.noConfig() != null) {
            err.println(name + ": " + binary.noConfig());
            return 2;
        }
        String source = commandLine.config() == null ? "embedded defaults" : commandLine.config().toString();
        LoadedConfig loaded;
        try {
            loaded = commandLine.config() == null ? ConfigLoader.readDefaults(binary.target(), env)
                    : ConfigLoader.read(commandLine.config(), binary.target(), env);
        } catch (ConfigException e) {
            return invalid(err, name, source, e);
        }
        OqpConfig config = loaded.config();
        if (commandLine.checkConfig()) {
            int attention = loaded.attention().size();
            out.println("# " + source + ": valid" + (attention == 0 ? ""
                    : ", " + attention + (attention == 1 ? " note needs" : " notes need") + " attention")
                    + " (secrets shown as ***)");
            for (String note : loaded.notes()) {
                out.println("# " + note + (loaded.needsAttention(note) ? "  [needs attention]" : ""));
            }
            out.print(ConfigPrinter.redactedYaml(config, binary.target()));
            return 0;
        }

        Logging.configure(config.logging().level(), config.logging().format() == LoggingConfig.Format.JSON);
        Logger log = LoggerFactory.getLogger(Launcher.class);
        logNotes(loaded, log);
        App app;
        try {
            app = starter.start(config, commandLine.config(), env, log);
        } catch (ConfigException e) {
            // Found only at start (e.g. an address DNS gives): a configuration problem all the same.
            return invalid(err, name, source, e);
        } catch (Exception e) {
            err.println(name + ": cannot start: " + describe(e));
            return 1;
        }
        log.atInfo()
                .addKeyValue("version", CommandLine.version(binary.versionSource()))
                .addKeyValue("config", source)
                .addKeyValue("listeners", String.join("; ", app.listeners()))
                .addKeyValue("startup_ms", (System.nanoTime() - startNanos) / 1_000_000)
                .log(name + " ready");
        log.atInfo().addKeyValue("config", ConfigPrinter.redactedYaml(config, binary.target()))
                .log("effective configuration");
        // On SIGTERM Jetty stops the server from its shutdown hook; the last lines must reach stdout.
        app.whenStopped(Logging::drainAndStop);
        return 0;
    }

    /** Prints every problem of an invalid configuration; returns exit status 2. */
    private static int invalid(PrintStream err, String name, String source, ConfigException e) {
        printProblems(err, name + ": invalid configuration " + source, e);
        return 2;
    }

    /** Only the queue proxy converts the Python tool's files (the sidecar's never were in that schema). */
    private static boolean migrates(Binary binary) {
        return binary.target() == Target.QUEUE_PROXY;
    }

    /** {@code migrate-config FILE}: the equivalent oqp YAML on stdout, exit 0; or the problems, exit 2. */
    private static int migrate(String name, Path file, Map<String, String> env, PrintStream out, PrintStream err) {
        try {
            out.print(ConfigLoader.migrate(file, env));
            return 0;
        } catch (ConfigException e) {
            printProblems(err, name + ": cannot convert " + file, e);
            return 2;
        }
    }

    private static void printProblems(PrintStream err, String head, ConfigException e) {
        err.println(head + " (" + e.problems().size() + (e.problems().size() == 1 ? " problem):" : " problems):"));
        for (String problem : e.problems()) {
            err.println("  " + problem);
        }
    }

    /** Stops a half-started app, ignoring what that throws: the start error is what the operator needs. */
    public static void stopQuietly(App app) {
        if (app == null) {
            return;
        }
        try {
            app.stop();
        } catch (Exception ignored) {
            // already failing
        }
    }

    /** The failure's message and, when it adds something, its root cause's. */
    public static String describe(Throwable e) {
        Throwable root = rootCause(e);
        String message = String.valueOf(e.getMessage());
        return root == e || root.getMessage() == null || message.contains(root.getMessage())
                ? message : message + ": " + root.getMessage();
    }

    /** The innermost cause of {@code e}. */
    public static Throwable rootCause(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root;
    }

    /**
     * Logs the notes of the configuration's reading once at start. A note that needs attention (a key without an
     * equivalent whose behaviour changes, a probable typo, a deprecated key, an override, named by variable and
     * path, never its value) at WARN; a plain translation at INFO, with one WARN line saying a Python file was
     * read, so that a rule alerting on WARN fires once per start, not once per translated key.
     */
    static void logNotes(LoadedConfig loaded, Logger log) {
        if (loaded.translated()) {
            int attention = loaded.attention().size();
            log.atWarn().addKeyValue("translated", loaded.notes().size() - attention)
                    .addKeyValue("attention", attention)
                    .log("configuration read in the Python tool's schema: " + (loaded.notes().size() - attention)
                            + " keys translated, " + attention + " need attention (see --check-config or"
                            + " migrate-config)");
        }
        for (String note : loaded.notes()) {
            if (loaded.needsAttention(note)) {
                log.atWarn().addKeyValue("note", note).log("configuration note");
            } else {
                log.atInfo().addKeyValue("note", note).log("configuration note");
            }
        }
    }

}
