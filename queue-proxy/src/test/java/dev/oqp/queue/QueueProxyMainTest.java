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
}
