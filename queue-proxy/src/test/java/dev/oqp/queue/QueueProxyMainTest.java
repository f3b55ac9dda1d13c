package dev.oqp.queue;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The queue proxy's command line: embedded defaults, which file is read, exit statuses, what is printed. */
class QueueProxyMainTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(Map<String, String> env, String... args) {
        return QueueProxyMain.run(args, env, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), System.nanoTime());
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void checkConfigWithoutAFileShowsTheEmbeddedDefaultsWithOllamaHostFromTheEnvironment() {
        assertThat(run(Map.of("OLLAMA_HOST", "http://gpu-box:11434"), "--check-config")).isEqualTo(0);
        assertThat(out()).contains("embedded defaults").contains("port: 11435").contains("host: 127.0.0.1")
                .contains("http://gpu-box:11434");
    }

    @Test
    void invalidConfigExitsTwoListingEveryProblem(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("bad.yaml");
        Files.writeString(file, """
                proxy:
                  port: 11435
                queue:
                  normal: { max_depth: -1 }
                  overflow_status_code: 418
                auth:
                  keys:
                    - client_id: a
                      key: "${MISSING_KEY}"
                """);

        assertThat(run(Map.of(), "--config", file.toString())).isEqualTo(2);

        assertThat(err()).contains("3 problems").contains("queue.normal.max_depth")
                .contains("queue.overflow_status_code").contains("MISSING_KEY");
    }

    @Test
    void configFileComesFromOqpConfig(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("q.yaml");
        Files.writeString(file, "proxy:\n  port: 12345\n");

        assertThat(run(Map.of("OQP_CONFIG", file.toString()), "--check-config")).isEqualTo(0);
        assertThat(out()).contains(file.toString()).contains("port: 12345");
    }

    @Test
    void configFileComesFromConfigPathAsForThePythonTool(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("q.yaml");
        Files.writeString(file, "proxy:\n  port: 12346\n");

        assertThat(run(Map.of("CONFIG_PATH", file.toString()), "--check-config")).isEqualTo(0);
        assertThat(out()).contains(file.toString()).contains("port: 12346");
    }

    @Test
    void portInUseExitsOneNamingTheListener(@TempDir Path dir) throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Path file = dir.resolve("q.yaml");
            Files.writeString(file, "proxy:\n  port: " + taken.getLocalPort() + "\nlogging:\n  level: error\n");

            assertThat(run(Map.of(), "--config", file.toString())).isEqualTo(1);

            assertThat(err()).contains("cannot start: proxy: cannot listen on 127.0.0.1:" + taken.getLocalPort());
        }
    }

    private static final String PYTHON_FILE = """
            proxy:
              port: 11500
              max_request_body_mb: 20
            ollama:
              hosts:
                - {url: "http://127.0.0.1:11434", name: gpu-1, model_sync_interval: 30}
            auth:
              enabled: true
              keys:
                - {client_id: librechat, key: "${LIBRECHAT_KEY}", management: true}
            client_injection:
              listeners:
                - {listen_port: 11501, inject_as: librechat}
            """;

    @Test
    void migrateConfigPrintsAnOqpFileThatCheckConfigAccepts(@TempDir Path dir) throws Exception {
        Path python = dir.resolve("config.yml");
        Files.writeString(python, PYTHON_FILE);
        Map<String, String> env = Map.of("LIBRECHAT_KEY", "librechat-secret-0123456789");

        assertThat(run(env, "migrate-config", python.toString())).isEqualTo(0);
        String migrated = out();
        assertThat(migrated).contains("# proxy.max_request_body_mb → proxy.max_body (MiB)")
                .contains("max_body: 20MiB").contains("${LIBRECHAT_KEY}").contains("scope: management")
                .doesNotContain("librechat-secret");
        Path oqp = dir.resolve("oqp.yaml");
        Files.writeString(oqp, migrated);
        out.reset();

        assertThat(run(env, "--check-config", "--config", oqp.toString())).isEqualTo(0);
        assertThat(out()).contains("max_body: 20MiB").contains("name: librechat-11501").doesNotContain("Python");
    }

    @Test
    void checkConfigOfAPythonFileShowsWhatWasTranslated(@TempDir Path dir) throws Exception {
        Path python = dir.resolve("config.yml");
        Files.writeString(python, PYTHON_FILE);

        assertThat(run(Map.of("LIBRECHAT_KEY", "librechat-secret-0123456789"), "--check-config", "--config",
                python.toString())).isEqualTo(0);
        assertThat(out()).contains("# read as the Python ollama-queue-proxy's schema")
                .contains("# client_injection.listeners[0] → services[0]").contains("max_body: 20MiB");
    }

    @Test
    void checkConfigSaysOnItsFirstLineHowManyNotesNeedAttentionAndStillExitsZero(@TempDir Path dir)
            throws Exception {
        Path python = dir.resolve("config.yml");
        Files.writeString(python, PYTHON_FILE + "routing:\n  stratgy: model_aware\n");

        assertThat(run(Map.of("LIBRECHAT_KEY", "librechat-secret-0123456789"), "--check-config", "--config",
                python.toString())).isEqualTo(0);
        String first = out().lines().findFirst().orElseThrow();
        assertThat(first).endsWith("valid, 3 notes need attention (secrets shown as ***)");
        assertThat(out()).contains("# routing.stratgy: not a key of the Python tool's schema either")
                .contains("(check the spelling)  [needs attention]")
                .contains("# proxy.max_request_body_mb → proxy.max_body (MiB), also the max_body of every"
                        + " injection port (services[]), as the Python tool applied it to its injection listeners\n");
    }

    @Test
    void aMixedFileIsRefusedNamingTheReplacementAndMigrateConfig(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("mixed.yml");
        Files.writeString(file, "proxy:\n  max_request_body_mb: 50\nqueue:\n  aging: 30s\n");

        assertThat(run(Map.of(), "--config", file.toString())).isEqualTo(2);
        assertThat(err()).contains("proxy.max_request_body_mb: unknown key, use proxy.max_body (e.g. 50MiB)")
                .contains("this file mixes the Python ollama-queue-proxy's schema").contains("migrate-config");
        assertThat(run(Map.of(), "migrate-config", file.toString())).isEqualTo(2);
    }

    @Test
    void aBadEnvironmentOverrideNamesTheVariable() {
        assertThat(run(Map.of("OQP_PROXY__PORT", "abc"), "--check-config")).isEqualTo(2);
        assertThat(err()).contains("proxy.port (from OQP_PROXY__PORT): abc (expected: an integer 1024-65535)");
    }

    @Test
    void anEnvironmentOverrideShowsInTheEffectiveConfig() {
        assertThat(run(Map.of("OQP_PROXY__PORT", "11600", "OQP_QUEUE__AGING", "0"), "--check-config")).isEqualTo(0);
        assertThat(out()).contains("port: 11600").contains("aging: 0s");
    }

    @Test
    void checkConfigNamesEachOverrideAndTheSharedKeysDefaults(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("config.yml");
        Files.writeString(file, "ollama:\n  hosts: [{url: \"http://127.0.0.1:11434\", name: a}]\n");

        assertThat(run(Map.of("OQP_AUTH__ENABLED", "false"), "--check-config", "--config", file.toString())).isEqualTo(0);
        assertThat(out()).contains("# environment override OQP_AUTH__ENABLED set auth.enabled (its value is not shown)")
                .contains("# read in oqp's schema: the file has only keys both schemas share");
    }
}
