package dev.oqp.sidecar;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;

import dev.oqp.common.config.Target;
import dev.oqp.common.server.JvmSettings;
import dev.oqp.common.server.Launcher;

/**
 * {@code java -jar ollama-auth-sidecar.jar [--config FILE] [--check-config]}. The file comes from
 * {@code --config}, else {@code $OQP_CONFIG}, else {@code $CONFIG_PATH}. Exit status: 0 after a clean
 * stop or a valid check, 1 on a run-time failure such as a port in use, 2 on an invalid configuration.
 */
public final class SidecarMain {
    static final String BINARY = "ollama-auth-sidecar";
    static final List<String> CONFIG_ENV = List.of("OQP_CONFIG", "CONFIG_PATH");
    private static final Launcher.Binary SIDECAR = new Launcher.Binary(BINARY, Target.SIDECAR, CONFIG_ENV,
            "no configuration file: pass --config FILE or set OQP_CONFIG or CONFIG_PATH."
                    + " The file lists the services (listen port, upstream, headers); see docs/configuration.md.",
            SidecarMain.class);

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
        return Launcher.run(SIDECAR, (config, file, vars, log) -> {
            Sidecar sidecar = new Sidecar(config);
            try {
                sidecar.start();
            } catch (Exception e) {
                Launcher.stopQuietly(sidecar);
                throw e;
            }
            return sidecar;
        }, args, env, out, err, startNanos);
    }
}
