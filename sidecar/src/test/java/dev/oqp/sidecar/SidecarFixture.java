package dev.oqp.sidecar;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import dev.oqp.common.config.ConfigException;
import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.Target;

/** Starts sidecars from YAML on free loopback ports and talks to them; closes everything it started. */
final class SidecarFixture implements AutoCloseable {
    final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private final List<Sidecar> started = new ArrayList<>();

    static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

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
        sidecar.start();
        started.add(sidecar);
        return sidecar;
    }

    /** A one-service config: {@code name} on a free port in front of {@code upstream}, plus extra lines. */
    static String service(String name, URI upstream, String... extraLines) {
        StringBuilder yaml = new StringBuilder("services:\n")
                .append("  - name: ").append(name).append('\n')
                .append("    listen: ").append(freePort()).append('\n')
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

    /**
     * A raw HTTP/1.1 exchange over a socket, for what {@link HttpClient} will not do (a chosen Host
     * header, closing the connection mid-response). The caller closes the socket.
     */
    static Socket rawRequest(int port, String method, String path, Map<String, String> headers, String body)
            throws IOException {
        Socket socket = new Socket(InetAddress.getLoopbackAddress(), port);
        socket.setSoTimeout(10_000);
        byte[] content = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        StringBuilder head = new StringBuilder(method + " " + path + " HTTP/1.1\r\n");
        if (!headers.containsKey("Host")) {
            head.append("Host: 127.0.0.1:").append(port).append("\r\n");
        }
        headers.forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
        if (body != null) {
            head.append("Content-Type: application/json\r\nContent-Length: ").append(content.length).append("\r\n");
        }
        if (!headers.containsKey("Connection")) {
            head.append("Connection: close\r\n");
        }
        head.append("\r\n");
        OutputStream out = socket.getOutputStream();
        out.write(head.toString().getBytes(StandardCharsets.US_ASCII));
        out.write(content);
        out.flush();
        return socket;
    }

    /** Reads from {@code in} until {@code marker} has been seen; returns everything read. */
    static String readUntil(InputStream in, String marker) throws IOException {
        StringBuilder sb = new StringBuilder();
        int b;
        while ((b = in.read()) != -1) {
            sb.append((char) b);
            if (sb.indexOf(marker) >= 0) {
                return sb.toString();
            }
        }
        throw new IOException("connection ended before " + marker + " in: " + sb);
    }

    @Override
    public void close() throws Exception {
        for (Sidecar sidecar : started) {
            sidecar.stop();
        }
    }
}
