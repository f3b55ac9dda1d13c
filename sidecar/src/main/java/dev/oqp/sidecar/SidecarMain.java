package dev.oqp.sidecar;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;

import dev.oqp.common.config.ConfigException;
import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.ConfigPrinter;
import dev.oqp.common.config.LoggingConfig;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.Target;
import dev.oqp.common.log.Logging;
import dev.oqp.common.server.CommandLine;
import dev.oqp.common.server.JvmSettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code java -jar ollama-auth-sidecar.jar [--config FILE] [--check-config]}. The file comes from
 * {@code --config}, else {@code $OQP_CONFIG}, else {@code $CONFIG_PATH}. Exit status: 0 after a clean
 * stop or a valid check, 1 on a run-time failure such as a port in use, 2 on an invalid configuration.
 */
public final class SidecarMain {
    static final String BINARY = "ollama-auth-sidecar";
    static final List<String> CONFIG_ENV = List.of("OQP_CONFIG", "CONFIG_PATH");

    private SidecarMain() {
    }

    public static void main(String[] args) {
        long startNanos = System.nanoTime();
        JvmSettings.apply();
        int status = run(args, System.getenv(), System.out, System.err, startNanos);
        if (status != 0) {
            System.exit(status);
        }
    }

    /** Everything but the JVM exit; returns the exit status (0 once the server is up and running). */
    static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err, long startNanos) {
        CommandLine commandLine;
        try {
            commandLine = CommandLine.parse(args, env, CONFIG_ENV);
        } catch (CommandLine.UsageException e) {
            err.println(BINARY + ": " + e.getMessage());
            err.print(CommandLine.usage(BINARY, CONFIG_ENV));
            return 2;
        }
        if (commandLine.help()) {
            out.print(CommandLine.usage(BINARY, CONFIG_ENV));
            return 0;
        }
        if (commandLine.version()) {
            out.println(BINARY + " " + CommandLine.version(SidecarMain.class));
            return 0;
        }
        if (commandLine.config() == null) {
            err.println(BINARY + ": no configuration file: pass --config FILE or set OQP_CONFIG or CONFIG_PATH."
                    + " The file lists the services (listen port, upstream, headers); see docs/configuration.md.");
            return 2;
        }
        OqpConfig config;
        try {
            config = ConfigLoader.load(commandLine.config(), Target.SIDECAR, env);
        } catch (ConfigException e) {
            err.println(BINARY + ": invalid configuration " + commandLine.config() + " (" + e.problems().size()
                    + (e.problems().size() == 1 ? " problem):" : " problems):"));
            for (String problem : e.problems()) {
                err.println("  " + problem);
            }
            return 2;
        }
        if (commandLine.checkConfig()) {
            out.println("# " + commandLine.config() + ": valid (secrets shown as ***)");
            out.print(ConfigPrinter.redactedYaml(config, Target.SIDECAR));
            return 0;
        }

        Logging.configure(config.logging().level(), config.logging().format() == LoggingConfig.Format.JSON);
        Logger log = LoggerFactory.getLogger(SidecarMain.class);
        Sidecar sidecar = null;
        try {
            sidecar = new Sidecar(config);
            sidecar.start();
        } catch (Exception e) {
            err.println(BINARY + ": cannot start: " + describe(e));
            stopQuietly(sidecar);
            return 1;
        }
        log.atInfo()
                .addKeyValue("version", CommandLine.version(SidecarMain.class))
                .addKeyValue("listeners", String.join("; ", sidecar.listeners()))
                .addKeyValue("startup_ms", (System.nanoTime() - startNanos) / 1_000_000)
                .log(BINARY + " ready");
        log.atInfo().addKeyValue("config", ConfigPrinter.redactedYaml(config, Target.SIDECAR)).log("effective configuration");
        // On SIGTERM Jetty stops the server from its shutdown hook; the last lines must reach stdout.
        sidecar.whenStopped(Logging::drainAndStop);
        return 0;
    }

    private static void stopQuietly(Sidecar sidecar) {
        if (sidecar == null) {
            return;
        }
        try {
            sidecar.stop();
        } catch (Exception ignored) {
            // already failing; the start error is what the operator needs
        }
    }

    /** The failure's message and, when it adds something, its root cause's. */
    private static String describe(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = String.valueOf(e.getMessage());
        return root == e || root.getMessage() == null || message.contains(root.getMessage())
                ? message : message + ": " + root.getMessage();
    }
}
