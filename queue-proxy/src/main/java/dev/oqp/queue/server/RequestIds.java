package dev.oqp.queue.server;

import java.util.concurrent.ThreadLocalRandom;

import org.eclipse.jetty.server.Request;

/**
 * Request ids (pipeline step 1): a client's {@code X-Request-ID} is kept when it is sane — 1 to 128
 * characters of {@code [A-Za-z0-9._-]}, so it is safe in a header, a log line and a metric exemplar —
 * otherwise a new one is generated. The id is echoed on every response and in every log line.
 */
public final class RequestIds {
    /** Longest client-supplied id kept. */
    public static final int MAX_LENGTH = 128;
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private RequestIds() {
    }

    /** The id of {@code request}: its {@code X-Request-ID} when sane, else a new one. */
    static String of(Request request) {
        return accept(request.getHeaders().get(Headers.X_REQUEST_ID));
    }

    /** The client's id when sane, else a new one. */
    public static String accept(String clientValue) {
        return isSane(clientValue) ? clientValue : generate();
    }

    /** True for 1 to {@value #MAX_LENGTH} characters of {@code [A-Za-z0-9._-]}. */
    public static boolean isSane(String value) {
        if (value == null || value.isEmpty() || value.length() > MAX_LENGTH) {
            return false;
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '-';
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    /**
     * A new id: 16 hexadecimal characters from a thread-local random source. Ids correlate log lines;
     * they are not secrets, so a cryptographic source is not needed.
     */
    public static String generate() {
        long bits = ThreadLocalRandom.current().nextLong();
        char[] out = new char[16];
        for (int i = 15; i >= 0; i--) {
            out[i] = HEX[(int) (bits & 0xF)];
            bits >>>= 4;
        }
        return new String(out);
    }
}
