package dev.oqp.queue.server;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntUnaryOperator;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * A webhook receiver on loopback, as a user would write one: it records every POST (headers, raw body), checks
 * its signature as docs/operations.md tells receivers to, and answers what the test scripts: a status per
 * attempt number, or a hang.
 */
final class WebhookReceiver implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One POST as received. */
    record Received(String event, Map<String, List<String>> headers, String body, boolean signatureValid) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("not JSON: " + body, e);
            }
        }

        String header(String name) {
            List<String> values = headers.get(name);
            return values == null ? null : values.get(0);
        }
    }

    private final HttpServer server;
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final String secret;
    private final List<Received> received = new CopyOnWriteArrayList<>();
    private final AtomicInteger attempts = new AtomicInteger();
    private volatile IntUnaryOperator statusForAttempt = n -> 200;
    private volatile Duration hang = Duration.ZERO;

    /** @param secret the signing key the receiver verifies with, or null for unsigned deliveries */
    WebhookReceiver(String secret) throws IOException {
        this.secret = secret;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(threads);
        server.createContext("/", this::handle);
        server.start();
    }

    /** The URL to configure. */
    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/hook";
    }

    /** Answers {@code status.applyAsInt(n)} to the n-th POST (1-based). */
    WebhookReceiver answering(IntUnaryOperator status) {
        this.statusForAttempt = status;
        return this;
    }

    /** Holds every POST this long before answering. */
    WebhookReceiver hanging(Duration duration) {
        this.hang = duration;
        return this;
    }

    List<Received> received() {
        return List.copyOf(received);
    }

    /** The POSTs carrying {@code event}, in arrival order. */
    List<Received> events(String event) {
        return received.stream().filter(r -> event.equals(r.event())).toList();
    }

    private void handle(HttpExchange exchange) throws IOException {
        int n = attempts.incrementAndGet();
        String body;
        try (InputStream in = exchange.getRequestBody()) {
            body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        Map<String, List<String>> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        headers.putAll(exchange.getRequestHeaders());
        String event = exchange.getRequestHeaders().getFirst("X-OQP-Event");
        received.add(new Received(event, headers, body, verify(exchange.getRequestHeaders().getFirst("X-OQP-Timestamp"),
                exchange.getRequestHeaders().getFirst("X-OQP-Signature"), body)));
        if (!hang.isZero()) {
            try {
                Thread.sleep(hang.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                exchange.close();
                return;
            }
        }
        exchange.sendResponseHeaders(statusForAttempt.applyAsInt(n), -1);
        exchange.close();
    }

    /** The receiver's check: HMAC-SHA256 of "<timestamp>.<body>", compared in constant time. */
    private boolean verify(String timestamp, String signature, String body) {
        if (secret == null || timestamp == null || signature == null) {
            return false;
        }
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            byte[] expected = ("sha256=" + HexFormat.of().formatHex(
                    mac.doFinal((timestamp + "." + body).getBytes(StandardCharsets.UTF_8)))).getBytes(StandardCharsets.US_ASCII);
            return MessageDigest.isEqual(expected, signature.getBytes(StandardCharsets.US_ASCII));
        } catch (GeneralSecurityException e) {
            throw new AssertionError(e);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
    }
}
