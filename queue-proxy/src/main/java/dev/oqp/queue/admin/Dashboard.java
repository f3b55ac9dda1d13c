package dev.oqp.queue.admin;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Map;

/**
 * {@code GET /dashboard}: one self-contained page (no external resource) that polls {@code /queue/summary} and
 * {@code /queue/status}. Its inline script and style run under a nonce new for every response; the policy
 * allows nothing else (no other script, no eval, no frames, connections to this origin only).
 */
final class Dashboard {
    private static final SecureRandom NONCES = new SecureRandom();
    /** The page, with {@code {{NONCE}}} where each response's nonce goes. */
    private static final String PAGE = resource("dashboard.html");

    private Dashboard() {
    }

    private static String resource(String name) {
        try (InputStream in = Dashboard.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException(name + " is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Reply page() {
        byte[] nonceBytes = new byte[18];
        NONCES.nextBytes(nonceBytes);
        String nonce = Base64.getEncoder().encodeToString(nonceBytes);
        Map<String, String> headers = Map.of(
                "Content-Security-Policy", "default-src 'none'; script-src 'nonce-" + nonce + "'; style-src 'nonce-"
                        + nonce + "'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none';"
                        + " frame-ancestors 'none'",
                "X-Content-Type-Options", "nosniff",
                "X-Frame-Options", "DENY",
                "Referrer-Policy", "no-referrer",
                "Cache-Control", "no-store");
        return new Reply.Content(200, "text/html; charset=utf-8",
                PAGE.replace("{{NONCE}}", nonce).getBytes(StandardCharsets.UTF_8), headers);
    }
}
