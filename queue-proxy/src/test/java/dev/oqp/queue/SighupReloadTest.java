package dev.oqp.queue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

import dev.oqp.common.testing.TestSockets;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.awaitility.core.TerminalFailureException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real process: {@code kill -HUP} reloads the file (it does not stop the JVM, which is Java's default),
 * and a reload of a file with a problem keeps the process running on what it had.
 */
class SighupReloadTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String KEY = "sighup-key-0123456789abcdef";

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private Process process;

    @TempDir
    Path dir;

    @AfterEach
    void tearDown() throws Exception {
        if (process != null) {
            process.destroy();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

    private static String config(int port, String clientId) {
        return "proxy:\n  port: " + port + "\n  drain_timeout: 1s\n"
                + "ollama:\n  hosts:\n    - {name: h, url: 'http://127.0.0.1:9'}\n"
                + "auth:\n  keys:\n    - {client_id: " + clientId + ", key: " + KEY + "}\n"
                + "logging:\n  level: info\n";
    }

    private String metrics(int port) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                .header("Authorization", "Bearer " + KEY).timeout(Duration.ofSeconds(5)).build();
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        return response.statusCode() == 200 ? response.body() : "";
    }

    private static boolean reloads(String metrics, String result, int count) {
        return metrics.lines().anyMatch(l -> l.startsWith("oqp_config_reloads_total{result=\"" + result + "\"} " + count + ".0"));
    }

    /** Waits for {@code condition}; on a timeout, fails with what the proxy logged. */
    private void await(Path log, Callable<Boolean> condition) throws IOException {
        try {
            Awaitility.await().atMost(WAIT).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
                    .failFast("the proxy exited", () -> !process.isAlive()).until(condition);
        } catch (ConditionTimeoutException | TerminalFailureException e) {
            throw new AssertionError(e.getMessage() + "; the proxy logged:\n" + Files.readString(log), e);
        }
    }

    private void hangUp() throws Exception {
        Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(process.pid())).inheritIO().start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(kill.exitValue()).isZero();
    }

    @Test
    void sighupReloadsTheFileAndABadFileKeepsTheProcessRunning() throws Exception {
        assumeTrue(!System.getProperty("os.name").toLowerCase().startsWith("windows"), "SIGHUP is POSIX");
        // Picked before the process binds it: the port goes into the file the process starts from.
        int port = TestSockets.freePort();
        Path file = dir.resolve("oqp.yaml");
        Files.writeString(file, config(port, "before"));
        Path log = dir.resolve("out.log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        process = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                QueueProxyMain.class.getName(), "--config", file.toString()))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        await(log, () -> metrics(port).contains("oqp_uptime_seconds"));

        // Unchanged file: the watcher sees nothing, so only the signal reloads it.
        hangUp();
        await(log, () -> reloads(metrics(port), "success", 1));
        assertThat(process.isAlive()).as("SIGHUP does not stop the proxy").isTrue();
        assertThat(Files.readString(log, StandardCharsets.UTF_8)).contains("SIGHUP received")
                .doesNotContain("SIGHUP is ignored");

        // A file with a problem: refused, counted, the process keeps its key and keeps running.
        Files.writeString(file, config(port, "before") + "queue:\n  normal: {max_depth: -1}\n");
        await(log, () -> reloads(metrics(port), "error", 1));
        hangUp();
        await(log, () -> reloads(metrics(port), "error", 2));
        assertThat(process.isAlive()).isTrue();
        assertThat(reloads(metrics(port), "success", 1)).isTrue();
        String output = Files.readString(log, StandardCharsets.UTF_8);
        assertThat(output).contains("queue.normal.max_depth").doesNotContain(KEY);
    }

    @Test
    void aProcessStartedWithSighupIgnoredSaysSoAtStartAndReloadsWhenTheFileChanges() throws Exception {
        assumeTrue(!System.getProperty("os.name").toLowerCase().startsWith("windows"), "SIGHUP is POSIX");
        int port = TestSockets.freePort();
        Path file = dir.resolve("oqp.yaml");
        Files.writeString(file, config(port, "before"));
        Path log = dir.resolve("out.log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // What nohup does: the signal is ignored before the JVM starts ("$@" keeps every argument whole).
        process = new ProcessBuilder(List.of("sh", "-c", "trap '' HUP; exec \"$@\"", "sh", java, "-cp",
                System.getProperty("java.class.path"), QueueProxyMain.class.getName(), "--config", file.toString()))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        await(log, () -> metrics(port).contains("oqp_uptime_seconds"));

        assertThat(Files.readString(log, StandardCharsets.UTF_8)).contains(QueueProxyMain.hangUpIgnoredWarning(true));
        hangUp();
        Thread.sleep(500);
        assertThat(process.isAlive()).as("an ignored SIGHUP neither stops nor reloads").isTrue();
        assertThat(reloads(metrics(port), "success", 1)).isFalse();

        // What the warning promises: saving the file reloads it.
        Files.writeString(file, config(port, "after"));
        await(log, () -> reloads(metrics(port), "success", 1));
    }
}
