package dev.oqp.sidecar;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import dev.oqp.common.config.ConfigException;
import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.Target;
import dev.oqp.common.testing.TestSockets;

/**
 * Starts sidecars from YAML on free loopback ports and talks to them; closes everything it started.
 *
 * <p>Every listener of a sidecar started here binds port 0, so the kernel picks a free port when it binds (no window
 * in which another process can take a port picked earlier); tests read the bound ports back with
 * {@link Sidecar#port(String)} and {@link Sidecar#metricsPort()}. The ports in the YAML only satisfy the config's
 * checks (1024-65535, unique) and are never bound: a test that writes one uses a placeholder below.
 */
final class SidecarFixture implements AutoCloseable {
    /** A listen port for a test's YAML where the config requires one: {@link #start} binds port 0 instead. */
    static final int PLACEHOLDER_PORT = 11436;
    /** A second one, for a second listener of the same file. */
    static final int OTHER_PLACEHOLDER_PORT = 11437;

    static Socket rawRequest(int port, String method, String path, Map<String, String> headers, String body)
            throws IOException {
        return TestSockets.rawRequest(port, method, path, headers, body);
    }

    static String readUntil(InputStream in, String marker) throws IOException {
        return TestSockets.readUntil(in, marker);
    }

    final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private final List<Sidecar> started = new ArrayList<>();

    Sidecar start(String yaml) throws Exception {
        return start(yaml, Map.of());
    }

    Sidecar start(String yaml, Map<String, String> env) throws Exception {
        if (!yaml.contains("sidecar:")) {
            // A stream a test leaves stalled must not hold the fixture's stop for the default 30 s.
            yaml = yaml + "sidecar:\n  drain_timeout: 1s\n";
        }
        OqpConfig config;
        try {
            config = ConfigLoader.parse(yaml, Target.SIDECAR, env);
        } catch (ConfigException e) {
            throw new AssertionError("test config invalid:\n" + e.getMessage(), e);
        }
        Sidecar sidecar = new Sidecar(config);
        TestSockets.bindAnyPorts(sidecar.connector(config.services().get(0).name()).getServer());
        sidecar.start();
        started.add(sidecar);
        return sidecar;
    }

    /** A one-service config: {@code name} (on a free port once started) in front of {@code upstream}, plus extra lines. */
    static String service(String name, URI upstream, String... extraLines) {
        StringBuilder yaml = new StringBuilder("services:\n")
                .append("  - name: ").append(name).append('\n')
                .append("    listen: ").append(PLACEHOLDER_PORT).append('\n')
                .append("    upstream: ").append(upstream).append('\n');
        for (String line : extraLines) {
            yaml.append("    ").append(line).append('\n');
        }
        return yaml.toString();
    }

    static URI base(Sidecar sidecar, String service) {
        return URI.create("http://127.0.0.1:" + sidecar.port(service));
    }

    HttpResponse<String> get(URI uri) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> post(URI uri, String json) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofString(json))
                .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
    }

    @Override
    public void close() throws Exception {
        for (Sidecar sidecar : started) {
            sidecar.stop();
        }
    }
}
