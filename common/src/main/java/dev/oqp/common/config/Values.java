package dev.oqp.common.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateFactory;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Typed readers of single values that {@link Node} leaves to the sections: ids, bind addresses, injected
 * headers and file paths. Same contract as Node's accessors: {@code null} (or the given fallback) when the value
 * is absent or invalid, and a problem recorded at the node's path when invalid. Messages never echo a header value.
 */
final class Values {

    private static final Pattern ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final String ID_RULE = "1-64 characters of A-Z a-z 0-9 . _ -";
    private static final Pattern TOKEN = Pattern.compile("[!#$%&'*+\\-.^_`|~0-9A-Za-z]+");
    private static final Set<String> HOP_BY_HOP = Set.of("host", "content-length", "transfer-encoding", "connection",
            "keep-alive", "upgrade", "te", "trailer", "proxy-connection");

    private Values() {
    }

    /** {@code value}, or {@code fallback} when it is null (absent or invalid). */
    static <T> T or(T value, T fallback) {
        return value != null ? value : fallback;
    }

    /** An optional id: 1-64 characters of A-Z a-z 0-9 . _ - (see ID_RULE). */
    static String id(Node node) {
        String id = node.string();
        if (id != null && !ID.matcher(id).matches()) {
            node.problem(Node.show(id) + " (expected: " + ID_RULE + ")");
            return null;
        }
        return id;
    }

    /** A required id unique among {@code seen} (id to path); a duplicate is reported against the first path. */
    static String uniqueId(Node node, Map<String, String> seen, String what) {
        if (node.absent()) {
            node.problem("required");
            return null;
        }
        String id = id(node);
        if (id == null) {
            return null;
        }
        String first = seen.putIfAbsent(id, node.path);
        if (first != null) {
            node.problem("duplicate " + what + " \"" + id + "\" (also " + first + ")");
        }
        return id;
    }

    /**
     * An IP literal or {@code localhost}, else {@code fallback} when absent; a non-loopback address needs the
     * allow key named {@code allowKey} set to true. An invalid address is reported and still returned: the
     * record is not built then.
     */
    static String bindAddress(Node node, boolean allowPublic, String allowKey, String fallback) {
        String host = node.string();
        if (host == null) {
            return fallback;
        }
        if (!host.equalsIgnoreCase("localhost") && InetLiterals.parse(host) == null) {
            node.problem(Node.show(host) + " (expected: an IP address such as 127.0.0.1, 0.0.0.0 or ::1, or localhost)");
        } else if (!allowPublic && !InetLiterals.isLoopback(host)) {
            node.problem(host + " is not a loopback address (expected: " + allowKey
                    + ": true to accept connections from other machines)");
        }
        return host;
    }

    /** Header name to interpolated value, in file order; only the accepted headers. */
    static Map<String, String> headers(Node node) {
        Map<String, String> out = new LinkedHashMap<>();
        Map<String, String> seen = new LinkedHashMap<>();
        node.entries().forEach((name, value) -> {
            if (!TOKEN.matcher(name).matches()) {
                value.problem("not a valid header name (expected: RFC 9110 token characters)");
                return;
            }
            String lower = name.toLowerCase(Locale.ROOT);
            if (HOP_BY_HOP.contains(lower)) {
                value.problem("this header cannot be injected (it is managed by the proxy)");
                return;
            }
            String first = seen.putIfAbsent(lower, value.path);
            if (first != null) {
                value.problem("duplicate header (also " + first + ")");
                return;
            }
            if (value.absent()) {
                value.problem("expected a string, got null");
                return;
            }
            String text = value.string();
            if (text != null && printableAscii(value, text)) {
                out.put(name, text);
            }
        });
        return out;
    }

    /** True when a header value can be sent as is; else reports why, without the value (a secret). */
    private static boolean printableAscii(Node node, String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                node.problem("value contains a control character such as CR, LF or NUL (expected: printable text)");
                return false;
            }
            if (c > 0x7e) {
                // HTTP sends header bytes as Latin-1: anything else would arrive changed.
                node.problem("value contains a non-ASCII character (expected: printable ASCII text)");
                return false;
            }
        }
        return true;
    }

    /** The value of the Authorization header, its name matched ignoring case; {@code null} when there is none. */
    static String authorization(Map<String, String> headers) {
        for (Map.Entry<String, String> e : headers.entrySet()) {
            if (e.getKey().equalsIgnoreCase("authorization")) {
                return e.getValue();
            }
        }
        return null;
    }

    /** An existing readable regular file, resolved against {@code baseDir}; absolute and normalised. */
    static Path readableFile(Node node, Path baseDir) {
        String text = node.string();
        if (text == null) {
            return null;
        }
        if (text.isBlank()) {
            node.problem("\"\" (expected: a file path)");
            return null;
        }
        Path path = baseDir.resolve(text).toAbsolutePath().normalize();
        if (!Files.exists(path)) {
            node.problem(path + " does not exist");
            return null;
        }
        if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
            node.problem(path + " is not a readable file");
            return null;
        }
        return path;
    }

    /** A {@link #readableFile} holding at least one PEM certificate. */
    static Path certificateFile(Node node, Path baseDir) {
        Path path = readableFile(node, baseDir);
        if (path == null) {
            return null;
        }
        try (InputStream in = Files.newInputStream(path)) {
            if (CertificateFactory.getInstance("X.509").generateCertificates(in).isEmpty()) {
                node.problem(path + " contains no PEM certificate");
                return null;
            }
        } catch (IOException | GeneralSecurityException e) {
            node.problem(path + " is not a PEM certificate file (" + e.getMessage() + ")");
            return null;
        }
        return path;
    }

    /**
     * {@code text} (trimmed) when it is a valid {@code redis://} or {@code rediss://} URL; else a problem at
     * {@code node} that shows the URL with its password redacted and says what was {@code expected}, and null.
     */
    static String redisUrl(Node node, String text, String expected) {
        String trimmed = text.trim();
        String lower = trimmed.toLowerCase(Locale.ROOT);
        if (lower.startsWith("redis://") || lower.startsWith("rediss://")) {
            String problem = RedisUrls.problem(trimmed);
            if (problem == null) {
                return trimmed;
            }
            node.problem(RedisUrls.redact(trimmed) + ": " + problem + " (expected: redis://[[user]:password@]host[:port][/db])");
        } else {
            node.problem(Node.show(RedisUrls.redact(text)) + " (expected: " + expected + ")");
        }
        return null;
    }
}
