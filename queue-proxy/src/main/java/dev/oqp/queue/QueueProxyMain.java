package dev.oqp.queue;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;

import dev.oqp.common.config.Target;
import dev.oqp.common.server.JvmSettings;
import dev.oqp.common.server.Launcher;
import dev.oqp.queue.server.QueueProxy;
import org.slf4j.LoggerFactory;

/**
 * {@code java -jar ollama-queue-proxy.jar [--config FILE] [--check-config]}. The file comes from
 * {@code --config}, else {@code $OQP_CONFIG}, else {@code $CONFIG_PATH} (the Python tool's); with none, the proxy runs on its embedded defaults
 * ({@code 127.0.0.1:11435}, one host from {@code OLLAMA_HOST} or {@code http://127.0.0.1:11434}, auth off).
 * {@code OQP_SECTION__KEY} environment overrides apply to the file or the defaults; a file in the Python tool's
 * schema is translated. {@code migrate-config FILE} prints the oqp file equivalent to such a file.
 * Exit status: 0 after a clean stop or a valid check, 1 on a run-time failure such as a port in use, 2 on an
 * invalid configuration.
 */
public final class QueueProxyMain {
    static final String BINARY = "ollama-queue-proxy";
    private static final Launcher.Binary QUEUE_PROXY = new Launcher.Binary(BINARY, Target.QUEUE_PROXY,
            List.of("OQP_CONFIG", "CONFIG_PATH"), null, QueueProxyMain.class);

    /** The proxy this process runs, for SIGHUP. */
    private static volatile QueueProxy running;

    private QueueProxyMain() {
    }

    public static void main(String[] args) {
        long startNanos = System.nanoTime();
        JvmSettings.apply();
        // First, so that a SIGHUP during start-up (logrotate, systemctl reload) never stops the process: it is
        // remembered and applied once the proxy runs.
        reloadOnHangUp();
        int status = run(args, System.getenv(), System.out, System.err, startNanos);
        if (status != 0) {
            System.exit(status);
        }
        QueueProxy proxy = running;
        if (hangUpWhileStarting && proxy != null) {
            LoggerFactory.getLogger(QueueProxyMain.class).info("SIGHUP received during start-up: reloading the configuration");
            proxy.reloadFile();
        }
    }

    /** True when a SIGHUP came before the proxy was running. */
    private static volatile boolean hangUpWhileStarting;

    /**
     * True when SIGHUP was ignored when the process started ({@code nohup}, or a parent that ignores it): the JVM
     * then leaves it ignored and installs no handler, so {@code kill -HUP} cannot reload.
     */
    private static volatile boolean hangUpIgnored;

    /**
     * SIGHUP reloads the configuration file (instead of what the JVM does by default: stop the process). On
     * embedded defaults there is nothing to reload, which is logged.
     */
    @SuppressWarnings("removal")
    private static void reloadOnHangUp() {
        try {
            sun.misc.SignalHandler before = sun.misc.Signal.handle(new sun.misc.Signal("HUP"), signal -> {
                QueueProxy proxy = running;
                if (proxy == null) {
                    hangUpWhileStarting = true;
                    return;
                }
                LoggerFactory.getLogger(QueueProxyMain.class).info("SIGHUP received: reloading the configuration");
                proxy.reloadFile();
            });
            // The JVM does not take over a signal ignored at start (it answers with the old disposition instead).
            hangUpIgnored = before == sun.misc.SignalHandler.SIG_IGN;
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            // No SIGHUP on this platform: the file watcher still reloads.
        }
    }

    /** The start-up warning when SIGHUP is ignored; {@code watched}: the proxy runs on a file it watches. */
    static String hangUpIgnoredWarning(boolean watched) {
        return "SIGHUP is ignored by this process (started under nohup, or by a parent that ignores it), so kill -HUP "
                + "will not reload the configuration; " + (watched
                ? "the configuration file is watched: saving a change reloads it"
                : "the proxy runs on its embedded defaults, with no file to reload")
                + ". Start it without nohup (a service manager, or setsid with output redirected) for SIGHUP to reload";
    }

    /** Everything but the JVM exit; returns the exit status (0 once the server is up and running). */
    static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err, long startNanos) {
        return Launcher.run(QUEUE_PROXY, (config, file, vars, log) -> {
            QueueProxy proxy = new QueueProxy(config);
            try {
                proxy.start();
            } catch (Exception e) {
                Launcher.stopQuietly(proxy);
                throw e;
            }
            if (file != null) {
                proxy.watch(file, vars);
            }
            if (hangUpIgnored) {
                log.warn(hangUpIgnoredWarning(file != null));
            }
            running = proxy;
            return proxy;
        }, args, env, out, err, startNanos);
    }
}
