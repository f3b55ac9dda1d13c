package dev.oqp.common.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/** Socket-level helpers for end-to-end tests: free ports, port 0 for a server, raw HTTP/1.1 requests, reading up to a marker. */
public final class TestSockets {
    private TestSockets() {
    }

    /**
     * A port that was free a moment ago. Another process may take it before it is bound: only for a port that must be
     * known before anything binds it (a file a process starts from); a server in the test's JVM binds port 0 instead
     * ({@link #bindAnyPorts}).
     */
    public static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Makes every listener of {@code server}, not started yet, bind port 0: the kernel picks a free port as it binds,
     * and the test reads the bound one back. The ports its config names (which must be 1024-65535) are never bound.
     */
    public static void bindAnyPorts(Server server) {
        for (Connector connector : server.getConnectors()) {
            if (connector instanceof ServerConnector network) {
                network.setPort(0);
            }
        }
    }

    /**
     * A raw HTTP/1.1 exchange over a socket, for what {@code java.net.http.HttpClient} will not do (a chosen Host
     * header, closing the connection mid-response). The caller closes the socket.
     */
    public static Socket rawRequest(int port, String method, String path, Map<String, String> headers, String body)
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
    public static String readUntil(InputStream in, String marker) throws IOException {
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
}
