package dev.oqp.common.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;

/**
 * A seeded generator of malformed HTTP/1.1 requests, and a raw-socket sender that says what came back: the kind of
 * traffic a fuzzer or a hostile client sends. Every request carries a {@link #MARKER} (a long run of client text) in
 * a place a proxy might log: the path, the query, a header, the {@code Host}, the body; a test then checks that no
 * log line holds more than a small bound of it.
 */
public final class MalformedRequests {
    /** Client text of 300 characters; a log line must never hold more than a small part of it. */
    public static final String MARKER = "Q" + "7x".repeat(150).substring(0, 299);

    /** What one request got: a status line's code, a clean close (-1), a reset (-2) or no answer in time (-3). */
    public record Outcome(String name, int status, String firstLine) {
        public static final int CLOSED = -1;
        public static final int RESET = -2;
        public static final int SILENT = -3;
    }

    /** One malformed request: a name for failure messages and its raw bytes (and whether to half-close after). */
    public record Case(String name, byte[] bytes, boolean halfClose) {
    }

    private final Random random;
    private final String validKey;

    /**
     * @param seed     the seed: the same seed gives the same requests
     * @param validKey a key the proxy accepts (so requests also reach what lies behind authentication), or null
     */
    public MalformedRequests(long seed, String validKey) {
        this.random = new Random(seed);
        this.validKey = validKey;
    }

    /** {@code count} requests, each one of the malformation kinds below, chosen at random. */
    public List<Case> cases(int count) {
        List<Function<String, Case>> kinds = kinds();
        List<Case> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(kinds.get(random.nextInt(kinds.size())).apply("#" + i));
        }
        return out;
    }

    private String auth() {
        return validKey != null && random.nextBoolean() ? "Authorization: Bearer " + validKey + "\r\n" : "";
    }

    private String path() {
        String[] paths = {"/api/generate", "/api/chat", "/api/tags", "/api/version", "/api/show", "/v1/chat/completions",
            "/v1/models", "/", "/api/embed", "/api/blobs/sha256:00"};
        return paths[random.nextInt(paths.length)];
    }

    private String method() {
        return random.nextBoolean() ? "POST" : "GET";
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    private Case request(String name, String method, String target, String headers, String body, boolean halfClose) {
        String head = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth() + headers;
        if (body != null && !headers.contains("Content-Length") && !headers.contains("Transfer-Encoding")) {
            head += "Content-Length: " + body.getBytes(StandardCharsets.ISO_8859_1).length + "\r\n";
        }
        return new Case(name, ascii(head + "Connection: close\r\n\r\n" + (body == null ? "" : body)), halfClose);
    }

    private String json() {
        return "{\"model\":\"llama3\",\"prompt\":\"" + MARKER + "\",\"stream\":false}";
    }

    private List<Function<String, Case>> kinds() {
        List<Function<String, Case>> k = new ArrayList<>();
        k.add(n -> request(n + " bad escape in path", method(), "/api/ta%zzgs/" + MARKER, "", null, false));
        k.add(n -> request(n + " bad escape in query", method(), path() + "?%zz=1&token=" + MARKER, "", null, false));
        k.add(n -> request(n + " encoded unreserved", "GET", "/api/%74ags?x=" + MARKER, "", null, false));
        k.add(n -> request(n + " path parameter", "GET", "/api/tags;x=" + MARKER, "", null, false));
        k.add(n -> request(n + " dot segment", "GET", "/api/./tags/../" + MARKER, "", null, false));
        k.add(n -> request(n + " double slash", "GET", "//api/tags", "", null, false));
        k.add(n -> request(n + " unknown path", method(), "/" + MARKER, "", null, false));
        k.add(n -> new Case(n + " duplicate host", ascii("GET /api/tags HTTP/1.1\r\nHost: a\r\nHost: " + MARKER
                + "\r\nConnection: close\r\n\r\n"), false));
        k.add(n -> new Case(n + " long host", ascii("GET /api/tags HTTP/1.1\r\nHost: " + MARKER.repeat(20)
                + "\r\nConnection: close\r\n\r\n"), false));
        k.add(n -> new Case(n + " no host", ascii("GET /api/tags HTTP/1.1\r\nX-Junk: " + MARKER
                + "\r\nConnection: close\r\n\r\n"), false));
        k.add(n -> request(n + " bad content length", "POST", path(), "Content-Length: 1" + MARKER.substring(0, 5)
                + "\r\n", "{}", false));
        k.add(n -> request(n + " two content lengths", "POST", path(), "Content-Length: 5\r\nContent-Length: 7\r\n",
                "{\"a\":1}", false));
        k.add(n -> request(n + " bad chunk size", "POST", path(), "Transfer-Encoding: chunked\r\n",
                "zz\r\n" + MARKER + "\r\n0\r\n\r\n", false));
        k.add(n -> request(n + " chunked cut short", "POST", path(), "Transfer-Encoding: chunked\r\n",
                "400\r\n" + MARKER, true));
        k.add(n -> request(n + " body cut short", "POST", path(), "Content-Length: 5000\r\n", json(), true));
        k.add(n -> request(n + " not json", "POST", path(), "Content-Type: application/json\r\n", MARKER, false));
        k.add(n -> request(n + " json without model", "POST", path(), "", "{\"prompt\":\"" + MARKER + "\"}", false));
        k.add(n -> request(n + " header with control character", "GET", path(), "X-Bad: a\u0001" + MARKER + "\r\n", null,
                false));
        k.add(n -> request(n + " header with high bytes", "GET", path(), "X-Bad: \u00ff\u00fe" + MARKER + "\r\n", null,
                false));
        k.add(n -> request(n + " huge header", "GET", path(), "X-Big: " + MARKER.repeat(60) + "\r\n", null, false));
        k.add(n -> request(n + " bad priority", "POST", "/api/generate", "X-Queue-Priority: " + MARKER + "\r\n", json(),
                false));
        k.add(n -> request(n + " bad request id", "GET", "/api/version", "X-Request-ID: " + MARKER + "\r\n", null, false));
        k.add(n -> request(n + " expect continue", "POST", path(), "Expect: 100-continue\r\nContent-Length: 50000\r\n", "",
                false));
        k.add(n -> request(n + " trace", "TRACE", path(), "X-Echo: " + MARKER + "\r\n", null, false));
        k.add(n -> request(n + " connect", "CONNECT", "127.0.0.1:11434", "", null, false));
        k.add(n -> request(n + " odd method", MARKER.substring(0, 20).toUpperCase(), path(), "", null, false));
        k.add(n -> new Case(n + " http/1.0", ascii("GET " + path() + "?q=" + MARKER + " HTTP/1.0\r\n\r\n"), false));
        k.add(n -> new Case(n + " asterisk", ascii("OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
                false));
        k.add(n -> new Case(n + " absolute form", ascii("GET http://" + MARKER + "/api/tags HTTP/1.1\r\nHost: 127.0.0.1"
                + "\r\nConnection: close\r\n\r\n"), false));
        k.add(n -> {
            byte[] junk = new byte[64 + random.nextInt(512)];
            random.nextBytes(junk);
            return new Case(n + " random bytes", junk, true);
        });
        k.add(n -> new Case(n + " bad version", ascii("GET /api/tags HTTP/9.9\r\nHost: " + MARKER + "\r\n\r\n"), false));
        return k;
    }

    /** Sends {@code c} to {@code port} on loopback and reads the first line of what comes back. */
    public static Outcome send(int port, Case c, int timeoutMillis) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(timeoutMillis);
            OutputStream out = socket.getOutputStream();
            try {
                out.write(c.bytes());
                out.flush();
                if (c.halfClose()) {
                    socket.shutdownOutput();
                }
            } catch (SocketException e) {
                // The proxy may close while a long request is still being written: what it answered still counts.
            }
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            try {
                int b;
                while ((b = in.read()) != -1 && b != '\n') {
                    line.write(b);
                }
                if (line.size() == 0 && b == -1) {
                    return new Outcome(c.name(), Outcome.CLOSED, "");
                }
            } catch (SocketTimeoutException e) {
                return new Outcome(c.name(), Outcome.SILENT, line.toString(StandardCharsets.ISO_8859_1));
            } catch (SocketException e) {
                if (line.size() == 0) {
                    return new Outcome(c.name(), Outcome.RESET, "");
                }
            }
            String first = line.toString(StandardCharsets.ISO_8859_1).strip();
            String[] parts = first.split(" ");
            int status = parts.length > 1 && parts[0].startsWith("HTTP/") ? Integer.parseInt(parts[1]) : Outcome.CLOSED;
            return new Outcome(c.name(), status, first);
        }
    }

    /** True when {@code line} holds more than {@code bound} consecutive characters of {@link #MARKER}. */
    public static boolean holdsMarker(String line, int bound) {
        // The marker repeats "7x": a run of it in a line starts with either character.
        return line.contains(MARKER.substring(1, bound + 2)) || line.contains(MARKER.substring(2, bound + 3));
    }
}
