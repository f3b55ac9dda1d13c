package dev.oqp.sidecar;

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

/** The command line: which file is read, exit statuses, and what is printed. */
class SidecarMainTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(Map<String, String> env, String... args) {
        return SidecarMain.run(args, env, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), System.nanoTime());
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void noConfigFileExitsTwoSayingWhatIsNeeded() {
        assertThat(run(Map.of())).isEqualTo(2);
        assertThat(err()).contains("--config FILE").contains("OQP_CONFIG").contains("CONFIG_PATH");
    }

    @Test
    void unknownArgumentExitsTwoWithUsage() {
        assertThat(run(Map.of(), "--frobnicate")).isEqualTo(2);
        assertThat(err()).contains("unknown argument: --frobnicate").contains("usage:");
    }

    @Test
    void invalidConfigExitsTwoListingEveryProblemWithItsPath(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("bad.yaml");
        Files.writeString(file, """
                services:
                  - name: a
                    listen: 80
                    upstream: ftp://ollama:11434
                    headers:
                      Authorization: "Bearer ${MISSING_KEY}"
                """);

        assertThat(run(Map.of(), "--config", file.toString())).isEqualTo(2);

        assertThat(err()).contains("services[0].listen:")
                .contains("services[0].upstream:")
                .contains("services[0].headers.Authorization: environment variable MISSING_KEY is not set")
                .contains("3 problems");
    }

    @Test
    void checkConfigPrintsTheEffectiveConfigWithSecretsRedacted(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("ok.yaml");
        Files.writeString(file, """
                services:
                  - name: librechat
                    listen: 11437
                    upstream: http://ollama:11434
                    headers:
                      Authorization: "Bearer ${LIBRECHAT_KEY}"
                """);

        assertThat(run(Map.of("LIBRECHAT_KEY", "very-secret-value"), "--check-config", "--config", file.toString()))
                .isEqualTo(0);

        assertThat(out()).contains("librechat").contains("11437").contains("***").doesNotContain("very-secret-value")
                .contains("sidecar:").contains("logging:")
                .as("sections the sidecar does not act on are not shown").doesNotContain("embedding_cache");
    }

    @Test
    void configPathComesFromOqpConfigThenConfigPath(@TempDir Path dir) throws Exception {
        Path good = dir.resolve("good.yaml");
        Files.writeString(good, "services:\n  - {name: a, listen: 11437, upstream: \"http://127.0.0.1:11434\"}\n");

        assertThat(run(Map.of("CONFIG_PATH", good.toString()), "--check-config")).isEqualTo(0);
        assertThat(run(Map.of("OQP_CONFIG", good.toString(), "CONFIG_PATH", dir.resolve("nope.yaml").toString()),
                "--check-config")).isEqualTo(0);
    }

    @Test
    void portInUseExitsOneNamingThePort(@TempDir Path dir) throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Path file = dir.resolve("ok.yaml");
            Files.writeString(file, "services:\n  - {name: a, listen: " + taken.getLocalPort()
                    + ", upstream: \"http://127.0.0.1:11434\"}\n");

            assertThat(run(Map.of(), "--config", file.toString())).isEqualTo(1);

            assertThat(err()).contains("cannot start: service a: cannot listen on 127.0.0.1:" + taken.getLocalPort())
                    .contains("already in use");
        }
    }

    @Test
    void portInUseNamesTheServiceWhosePortIsTakenNotTheFirst(@TempDir Path dir) throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            // Picked before the process binds it: the port goes into the file the process starts from.
            int freePort = free.getLocalPort();
            free.close();
            Path file = dir.resolve("ok.yaml");
            Files.writeString(file, "services:\n  - {name: first, listen: " + freePort + ", upstream: \"http://127.0.0.1:11434\"}\n"
                    + "  - {name: second, listen: " + taken.getLocalPort() + ", upstream: \"http://127.0.0.1:11434\"}\n");

            assertThat(run(Map.of(), "--config", file.toString())).isEqualTo(1);

            assertThat(err()).contains("cannot start: service second: cannot listen on 127.0.0.1:" + taken.getLocalPort())
                    .doesNotContain("service first");
        }
    }

    @Test
    void migrateConfigIsTheQueueProxysOnly() {
        assertThat(run(Map.of(), "migrate-config", "config.yml")).isEqualTo(2);
        assertThat(err()).contains("unknown argument: migrate-config");
    }

    @Test
    void environmentOverridesApplyToTheSidecarsFile(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("s.yaml");
        Files.writeString(file, "services:\n  - {name: a, listen: 11437, upstream: \"http://127.0.0.1:11434\"}\n");

        assertThat(run(Map.of("CONFIG_PATH", file.toString(), "OQP_SERVICES__0__LISTEN", "11440"), "--check-config"))
                .isEqualTo(0);
        assertThat(out()).contains("listen: 11440").doesNotContain("proxy:");
    }
}
