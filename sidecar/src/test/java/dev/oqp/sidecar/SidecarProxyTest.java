package dev.oqp.sidecar;

import static dev.oqp.sidecar.SidecarFixture.base;
import static dev.oqp.sidecar.SidecarFixture.service;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.Fault;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.common.testing.TestTls;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sidecar end to end: a real client, the sidecar and a fake Ollama, all on loopback. */
class SidecarProxyTest {
    private final SidecarFixture fixture = new SidecarFixture();
    private FakeOllama ollama;

    @AfterEach
    void tearDown() throws Exception {
        fixture.close();
        if (ollama != null) {
            ollama.stop();
        }
    }

    private FakeOllama ollama(FakeOllama.Builder builder) throws Exception {
        ollama = builder.start();
        return ollama;
    }

    @Test
    void injectedHeaderReplacesClientHeaderOfSameNameAndAddsClientName() throws Exception {
        ollama(FakeOllama.builder().installed("llama3:latest"));
        Sidecar sidecar = fixture.start(service("librechat", ollama.baseUri(),
                "headers:", "  Authorization: \"Bearer injected-secret\"", "  X-Team: blue"));

        HttpResponse<String> response = fixture.http.send(HttpRequest.newBuilder(base(sidecar, "librechat")
                        .resolve("/api/tags"))
                .header("Authorization", "Bearer client-value")
                .header("x-team", "red")
                .header("X-Client-Name", "spoofed")
                .header("X-Other", "kept")
                .GET().build(), HttpResponse.BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(200);
        RecordedRequest received = ollama.requests().get(0);
        assertThat(received.headerValues("Authorization")).containsExactly("Bearer injected-secret");
        assertThat(received.headerValues("X-Team")).containsExactly("blue");
        assertThat(received.headerValues("X-Client-Name")).containsExactly("librechat");
        assertThat(received.header("X-Other")).isEqualTo("kept");
        assertThat(received.header("X-Forwarded-For")).isEqualTo("127.0.0.1");
        assertThat(received.header("X-Forwarded-Proto")).isEqualTo("http");
    }

    @Test
    void secretWithDollarsSlashAndAmpersandArrivesIntact() throws Exception {
        ollama(FakeOllama.builder());
        String secret = "s3cr$$et/with&amp=and$${NOT_A_VAR}";
        Sidecar sidecar = fixture.start(service("agent", ollama.baseUri(),
                "headers:", "  Authorization: \"Bearer ${AGENT_KEY}\"", "  X-Literal: \"cost$$5/a&b\""),
                Map.of("AGENT_KEY", secret));

        assertThat(fixture.get(base(sidecar, "agent").resolve("/api/version")).statusCode()).isEqualTo(200);

        RecordedRequest received = ollama.requests().get(0);
        assertThat(received.header("Authorization")).isEqualTo("Bearer " + secret);
        assertThat(received.header("X-Literal")).isEqualTo("cost$5/a&b");
    }

    @Test
    void healthIsAnsweredLocallyAndNeverProxied() throws Exception {
        ollama(FakeOllama.builder());
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri()));
        ollama.fault(Fault.refuseConnections());

        HttpResponse<String> health = fixture.get(base(sidecar, "ui").resolve("/health"));

        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.body()).isEqualTo("ok");
        ollama.fault(Fault.none());
        assertThat(fixture.get(base(sidecar, "ui").resolve("/api/version")).statusCode()).isEqualTo(200);
        assertThat(ollama.requests()).extracting(RecordedRequest::path).containsExactly("/api/version");
    }

    @Test
    void httpsUpstreamIsVerifiedAgainstTheConfiguredCaAndGetsSni(@TempDir Path dir) throws Exception {
        TestTls.Material tls = TestTls.generate(dir, "ollama.oqp.test"); // resolved by src/test/resources/test-hosts
        ollama(FakeOllama.builder().tls(tls.keyStore(), tls.password()));
        URI upstream = URI.create("https://ollama.oqp.test:" + ollama.port());
        Sidecar trusting = fixture.start(service("trusted", upstream, "ca_file: " + tls.certificatePem()));
        Sidecar verifying = fixture.start(service("untrusted", upstream));

        HttpResponse<String> ok = fixture.get(base(trusting, "trusted").resolve("/api/version"));
        HttpResponse<String> rejected = fixture.get(base(verifying, "untrusted").resolve("/api/version"));

        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ollama.requests()).hasSize(1);
        assertThat(ollama.requests().get(0).sniHost()).isEqualTo("ollama.oqp.test");
        assertThat(rejected.statusCode()).isEqualTo(502);
    }

    @Test
    void upstreamNameIsResolvedAgainWhenItsAddressChanges() throws Exception {
        Path hosts = Path.of(System.getProperty("jdk.net.hosts.file"));
        String original = Files.readString(hosts);
        try (FakeOllama before = FakeOllama.builder().listen("127.0.0.2", 0).start()) {
            int port = before.port();
            Files.writeString(hosts, original + "127.0.0.2 moving.oqp.test\n");
            Sidecar sidecar = fixture.start(service("ui", URI.create("http://moving.oqp.test:" + port)));
            URI version = base(sidecar, "ui").resolve("/api/version");
            assertThat(fixture.get(version).statusCode()).isEqualTo(200);
            assertThat(before.requests()).hasSize(1);

            // The container restarts with a new address, same name and port; the sidecar keeps running.
            before.stop();
            Files.writeString(hosts, original + "127.0.0.3 moving.oqp.test\n");
            try (FakeOllama after = FakeOllama.builder().listen("127.0.0.3", port).start()) {
                Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                    assertThat(fixture.get(version).statusCode()).isEqualTo(200);
                    assertThat(after.requests()).isNotEmpty();
                });
            }
        } finally {
            Files.writeString(hosts, original);
        }
    }

    @Test
    void eachServicePortInjectsItsOwnHeaders() throws Exception {
        ollama(FakeOllama.builder());
        int a = SidecarFixture.PLACEHOLDER_PORT;
        int b = SidecarFixture.OTHER_PLACEHOLDER_PORT;
        Sidecar sidecar = fixture.start("services:\n"
                + "  - name: alpha\n    listen: " + a + "\n    upstream: " + ollama.baseUri()
                + "\n    headers: {Authorization: \"Bearer A\"}\n"
                + "  - name: beta\n    listen: " + b + "\n    upstream: " + ollama.baseUri()
                + "\n    headers: {Authorization: \"Bearer B\"}\n");

        fixture.get(base(sidecar, "alpha").resolve("/api/version"));
        fixture.get(base(sidecar, "beta").resolve("/api/version"));

        assertThat(ollama.requests()).extracting(r -> r.header("Authorization") + " " + r.header("X-Client-Name"))
                .containsExactly("Bearer A alpha", "Bearer B beta");
    }

    @Test
    void metricsPortCountsRequestsPerServiceAndStatus() throws Exception {
        ollama(FakeOllama.builder());
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri())
                + "sidecar:\n  metrics_port: " + SidecarFixture.OTHER_PLACEHOLDER_PORT + "\n  drain_timeout: 1s\n");
        int metricsPort = sidecar.metricsPort();

        fixture.get(base(sidecar, "ui").resolve("/api/version"));
        fixture.get(base(sidecar, "ui").resolve("/api/nosuch"));
        HttpResponse<String> metrics = fixture.get(URI.create("http://127.0.0.1:" + metricsPort + "/metrics"));

        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body())
                .contains("oqp_sidecar_requests_total{service=\"ui\",status=\"200\"} 1")
                .contains("oqp_sidecar_requests_total{service=\"ui\",status=\"404\"} 1")
                .contains("oqp_sidecar_upstream_seconds_count{service=\"ui\"} 2");
    }

    @Test
    void clientClosingRightAfterACompleteResponseIsCountedAsSuccess() throws Exception {
        ollama(FakeOllama.builder());
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri())
                + "sidecar:\n  metrics_port: " + SidecarFixture.OTHER_PLACEHOLDER_PORT + "\n  drain_timeout: 1s\n");
        int metricsPort = sidecar.metricsPort();

        for (int i = 0; i < 20; i++) {
            try (Socket socket = SidecarFixture.rawRequest(sidecar.port("ui"), "GET", "/api/version",
                    Map.of("Connection", "keep-alive"), null)) {
                // Close the moment the body is complete, as curl does when it exits.
                SidecarFixture.readUntil(socket.getInputStream(), "\"}");
            }
        }

        Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(fixture.get(URI.create("http://127.0.0.1:" + metricsPort + "/metrics")).body())
                        .contains("oqp_sidecar_requests_total{service=\"ui\",status=\"200\"} 20")
                        .doesNotContain("status=\"499\""));
    }

    @Test
    void stopLetsAStreamInProgressFinishAndRefusesNewConnections() throws Exception {
        ollama(FakeOllama.builder().installed("llama3:latest")
                .tokens(List.of("a", "b", "c", "d", "e", "f", "g", "h", "i", "j")).tokenDelay(Duration.ofMillis(100)));
        Sidecar sidecar = fixture.start(service("ui", ollama.baseUri()) + "sidecar:\n  drain_timeout: 10s\n");
        int port = sidecar.port("ui");

        try (Socket socket = SidecarFixture.rawRequest(port, "POST", "/api/generate", Map.of(),
                "{\"model\":\"llama3\",\"prompt\":\"hi\"}")) {
            InputStream in = socket.getInputStream();
            SidecarFixture.readUntil(in, "\"done\":false");
            Thread stopper = new Thread(() -> {
                try {
                    sidecar.stop();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            stopper.start();
            Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> {
                try (Socket probe = new Socket(InetAddress.getLoopbackAddress(), port)) {
                    return false;
                } catch (IOException refused) {
                    return true;
                }
            });
            String rest = SidecarFixture.readUntil(in, "\"done\":true")
                    + new String(in.readAllBytes(), StandardCharsets.UTF_8);
            assertThat(rest).contains("\"done_reason\"");
            stopper.join(5000);
        }
        assertThat(ollama.requests().get(0).cancelled()).isFalse();
    }
}
