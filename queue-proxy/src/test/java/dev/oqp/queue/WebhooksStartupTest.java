package dev.oqp.queue;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SSRF guard at start: a webhook endpoint whose host is, or resolves to, an internal address is a
 * configuration problem (exit 2, every such endpoint listed, by host, never by URL) unless the host is in
 * {@code webhooks.allowed_hosts}.
 */
class WebhooksStartupTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(Path file) {
        return QueueProxyMain.run(new String[] {"--config", file.toString()}, Map.of(),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                System.nanoTime());
    }

    @Test
    void internalEndpointsAreRefusedAtStartExitTwoListingEachUnlessAllowed(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("oqp.yaml");
        Files.writeString(file, """
                proxy:
                  port: 11436
                ollama:
                  hosts:
                    - name: gpu-1
                      url: http://127.0.0.1:11434
                webhooks:
                  allowed_hosts: [192.168.1.20]
                  endpoints:
                    - url: http://127.0.0.1:9000/hooks/token-in-path
                    - url: http://localhost:9000/x
                    - url: http://192.168.1.10/x
                    - url: http://192.168.1.20/allowed
                    - url: https://[::ffff:10.0.0.1]/x
                """);

        assertThat(run(file)).isEqualTo(2);

        assertThat(err.toString(StandardCharsets.UTF_8))
                .contains("invalid configuration " + file + " (4 problems):")
                .contains("webhooks.endpoints[0].url: host 127.0.0.1 resolves to 127.0.0.1 (loopback 127.0.0.0/8),"
                        + " refused as an SSRF risk (list the host in webhooks.allowed_hosts to allow it)")
                .contains("webhooks.endpoints[1].url: host localhost resolves to")
                .contains("webhooks.endpoints[2].url: host 192.168.1.10 resolves to 192.168.1.10 (private"
                        + " 192.168.0.0/16)")
                .contains("webhooks.endpoints[4].url: host ::ffff:10.0.0.1 resolves to 10.0.0.1 (private 10.0.0.0/8)")
                .doesNotContain("endpoints[3]")
                .doesNotContain("token-in-path");
    }
}
