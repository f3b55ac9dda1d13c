package dev.oqp.common.server;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The command line both binaries share: {@code [--config FILE] [--check-config] [--help] [--version]}, and
 * the queue proxy's {@code migrate-config FILE}.
 *
 * @param config      the config file named on the command line or by the environment; null when none
 * @param migrate     {@code migrate-config FILE}: the file in the Python tool's schema to convert; else null
 * @param checkConfig validate, print the redacted effective config and exit (0 or 2)
 * @param help        print usage and exit 0
 * @param version     print the version and exit 0
 */
public record CommandLine(Path config, boolean checkConfig, boolean help, boolean version, Path migrate) {

    /** A command line that cannot be understood; the message says why. Exit status 2. */
    public static final class UsageException extends Exception {
        public UsageException(String message) {
            super(message);
        }
    }

    /**
     * Parses {@code args}. Without {@code --config}, the first set and non-empty variable of
     * {@code envNames} names the file (both binaries honour {@code OQP_CONFIG} then
     * {@code CONFIG_PATH}).
     */
    public static CommandLine parse(String[] args, Map<String, String> env, List<String> envNames)
            throws UsageException {
        Path config = null;
        boolean check = false;
        boolean help = false;
        boolean version = false;
        Path migrate = null;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("migrate-config") && i == 0) {
                if (args.length < 2 || args[1].isBlank()) {
                    throw new UsageException("migrate-config needs a file name");
                }
                if (args.length > 2) {
                    throw new UsageException("migrate-config takes one file name, then nothing: " + args[2]);
                }
                return new CommandLine(null, false, false, false, Path.of(args[1]));
            } else if (arg.equals("--config") || arg.equals("-c")) {
                if (i + 1 >= args.length || args[i + 1].isBlank()) {
                    throw new UsageException(arg + " needs a file name");
                }
                config = Path.of(args[++i]);
            } else if (arg.startsWith("--config=")) {
                String value = arg.substring("--config=".length());
                if (value.isBlank()) {
                    throw new UsageException("--config needs a file name");
                }
                config = Path.of(value);
            } else if (arg.equals("--check-config")) {
                check = true;
            } else if (arg.equals("--help") || arg.equals("-h")) {
                help = true;
            } else if (arg.equals("--version")) {
                version = true;
            } else {
                throw new UsageException("unknown argument: " + arg);
            }
        }
        if (config == null) {
            for (String name : envNames) {
                String value = env.get(name);
                if (value != null && !value.isBlank()) {
                    config = Path.of(value);
                    break;
                }
            }
        }
        return new CommandLine(config, check, help, version, migrate);
    }

    /** Usage text for {@code binary}; {@code migrate}: it has {@code migrate-config FILE}. */
    public static String usage(String binary, List<String> envNames, boolean migrate) {
        return "usage: java -jar " + binary + ".jar [--config FILE] [--check-config] [--help] [--version]\n"
                + (migrate ? "       java -jar " + binary + ".jar migrate-config FILE\n" : "")
                + "  --config FILE    YAML configuration (default: $" + String.join(", then $", envNames) + ")\n"
                + "  --check-config   validate the configuration, print it with secrets redacted, exit 0 or 2\n"
                + (migrate ? "  migrate-config FILE  print the oqp file equivalent to FILE, a file of the Python"
                        + " ollama-queue-proxy (exit 0, or 2 with its problems)\n" : "")
                + "environment: OQP_SECTION__KEY=value overrides a key of the file (docs/configuration.md)\n"
                + "exit status: 0 ok, 1 run-time failure (such as a port in use), 2 invalid configuration or usage\n";
    }

    /** The version of the running jar, from its manifest. */
    public static String version(Class<?> mainClass) {
        String v = mainClass.getPackage().getImplementationVersion();
        return v == null ? "development" : v;
    }
}
