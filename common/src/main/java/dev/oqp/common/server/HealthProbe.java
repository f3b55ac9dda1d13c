package dev.oqp.common.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.Target;

/**
 * The container images' {@code HEALTHCHECK}: {@code java -cp <jar> dev.oqp.common.server.HealthProbe
 * --queue-proxy|--sidecar}. Reads the same configuration file the binary does ({@code OQP_CONFIG}, else
 * {@code CONFIG_PATH}; the queue proxy's embedded defaults without one), asks {@code GET /health} on the
 * queue proxy's main port or the sidecar's first service port over loopback, and exits 0 on a 200, else 1. No
 * curl or wget is needed in the image. An optional last argument {@code http://host:port} overrides the target.
 */
public final class HealthProbe {
    private HealthProbe() {
    }

    public static void main(String[] args) {
        System.exit(probe(args, System.getenv()));
    }

    static int probe(String[] args, Map<String, String> env) {
        boolean sidecar = args.length > 0 && args[0].equals("--sidecar");
        String host = "127.0.0.1";
        int port;
        try {
            if (args.length > 1) {
                URI uri = URI.create(args[1]);
                host = uri.getHost();
                port = uri.getPort();
            } else {
                port = port(sidecar, env);
            }
        } catch (Exception e) {
            System.err.println("health probe: " + e.getMessage());
            return 1;
        }
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), 2000);
            socket.setSoTimeout(3000);
            OutputStream out = socket.getOutputStream();
            out.write(("GET /health HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            byte[] head = in.readNBytes(12);
            String status = new String(head, StandardCharsets.US_ASCII);
            if (status.startsWith("HTTP/1.1 200") || status.startsWith("HTTP/1.0 200")) {
                return 0;
            }
            System.err.println("health probe: " + host + ":" + port + " answered " + status.trim());
            return 1;
        } catch (IOException e) {
            System.err.println("health probe: " + host + ":" + port + ": " + e.getMessage());
            return 1;
        }
    }

    private static int port(boolean sidecar, Map<String, String> env) throws Exception {
        List<String> names = List.of("OQP_CONFIG", "CONFIG_PATH");
        Path file = null;
        for (String name : names) {
            String value = env.get(name);
            if (value != null && !value.isBlank()) {
                file = Path.of(value);
                break;
            }
        }
        Target target = sidecar ? Target.SIDECAR : Target.QUEUE_PROXY;
        OqpConfig config = file == null ? ConfigLoader.defaults(target, env) : ConfigLoader.load(file, target, env);
        if (sidecar) {
            if (config.services().isEmpty()) {
                throw new IllegalStateException("no services in the configuration");
            }
            return config.services().get(0).listen();
        }
        return config.proxy().port();
    }
}
