package dev.oqp.common.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The images' health check: 0 on a 200 from {@code /health}, 1 otherwise, the port read from the config. */
class HealthProbeTest {

    /** Answers one connection with {@code status}. */
    private static Thread answerOnce(ServerSocket server, String status) {
        Thread t = new Thread(() -> {
            try (Socket s = server.accept()) {
                s.getInputStream().read(new byte[1024]);
                s.getOutputStream().write(("HTTP/1.1 " + status + "\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                        .getBytes(StandardCharsets.US_ASCII));
            } catch (IOException ignored) {
                // the probe gave up
            }
        });
        t.start();
        return t;
    }

    @Test
    void healthyAndUnhealthyAndNobodyListening(@TempDir Path dir) throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = server.getLocalPort();
            Path config = dir.resolve("c.yaml");
            Files.writeString(config, "proxy:\n  port: " + port + "\n");
            Thread ok = answerOnce(server, "200 OK");
            assertThat(HealthProbe.probe(new String[] {"--queue-proxy"}, Map.of("OQP_CONFIG", config.toString()))).isZero();
            ok.join(5000);

            Files.writeString(config, "services:\n  - {name: a, listen: " + port + ", upstream: 'http://127.0.0.1:1'}\n");
            Thread down = answerOnce(server, "503 Service Unavailable");
            assertThat(HealthProbe.probe(new String[] {"--sidecar"}, Map.of("CONFIG_PATH", config.toString()))).isEqualTo(1);
            down.join(5000);
        }
        try (ServerSocket closed = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = closed.getLocalPort();
            closed.close();
            assertThat(HealthProbe.probe(new String[] {"--queue-proxy", "http://127.0.0.1:" + port}, Map.of())).isEqualTo(1);
        }
    }
}
