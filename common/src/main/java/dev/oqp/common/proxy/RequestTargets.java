package dev.oqp.common.proxy;

import org.eclipse.jetty.http.HttpURI;

/**
 * Which request targets the proxies accept, the one rule both binaries apply before anything is decided on a
 * request (the queue proxy's gate, before authentication and scope; {@link ProxyBase} before anything is sent
 * upstream).
 *
 * <p>A path is canonical when its raw form, as the client wrote it, starts with {@code /} and has no {@code ;}
 * (path parameters), no {@code \}, no empty segment (also none at the end, except the path {@code /}), no
 * {@code .} or {@code ..} segment, and no percent-escape that is malformed, encodes {@code /} or {@code \}, or
 * encodes an unreserved character ({@code A-Z a-z 0-9 - . _ ~}, which RFC 3986 §6.2.2.2 says must be decoded,
 * so {@code %2e} is a dot and {@code %74} a {@code t}). Any other character may be percent-encoded (clients
 * encode {@code :} in model names and blob digests). Then the path the proxy classifies and the one Ollama
 * reads are the same path.
 *
 * <p>A query is well formed when every {@code %} starts an escape of two hex digits: Jetty's client cannot
 * build an upstream request from any other, and that failure must not look like an unreachable host.
 */
public final class RequestTargets {
    /** The answer to a path that is not canonical (400). */
    public static final String NOT_CANONICAL = "request path must be in canonical form";
    /** The answer to a query with a malformed percent-escape (400). */
    public static final String MALFORMED_QUERY = "the query string is malformed";

    private RequestTargets() {
    }

    /** Why {@code clientToProxyUri} is refused ({@link #NOT_CANONICAL}, {@link #MALFORMED_QUERY}), or null. */
    public static String refusal(HttpURI clientToProxyUri) {
        if (!canonicalPath(clientToProxyUri.getPath())) {
            return NOT_CANONICAL;
        }
        return wellFormedQuery(clientToProxyUri.getQuery()) ? null : MALFORMED_QUERY;
    }

    /** True when {@code rawPath} (not decoded) is canonical, see the class comment; false for null. */
    public static boolean canonicalPath(String rawPath) {
        if (rawPath == null || !rawPath.startsWith("/")) {
            return false;
        }
        if ("/".equals(rawPath)) {
            return true;
        }
        int start = 1;
        while (start <= rawPath.length()) {
            int end = rawPath.indexOf('/', start);
            if (end < 0) {
                end = rawPath.length();
            }
            if (!canonicalSegment(rawPath, start, end)) {
                return false;
            }
            start = end + 1;
        }
        return true;
    }

    /** True when {@code rawQuery} is null or every {@code %} in it starts an escape of two hex digits. */
    public static boolean wellFormedQuery(String rawQuery) {
        if (rawQuery == null) {
            return true;
        }
        for (int i = rawQuery.indexOf('%'); i >= 0; i = rawQuery.indexOf('%', i + 3)) {
            if (escaped(rawQuery, i) < 0) {
                return false;
            }
        }
        return true;
    }

    private static boolean canonicalSegment(String path, int start, int end) {
        if (start == end) {
            return false;
        }
        int length = end - start;
        if (length <= 2 && path.startsWith(length == 1 ? "." : "..", start)) {
            return false;
        }
        for (int i = start; i < end; i++) {
            char c = path.charAt(i);
            if (c == ';' || c == '\\') {
                return false;
            }
            if (c == '%') {
                int decoded = i + 2 < end ? escaped(path, i) : -1;
                if (decoded < 0 || decoded == '/' || decoded == '\\' || unreserved(decoded)) {
                    return false;
                }
                i += 2;
            }
        }
        return true;
    }

    /** The byte the escape at {@code percent} encodes, or -1 when it is not {@code %} and two hex digits. */
    private static int escaped(String s, int percent) {
        if (percent + 2 >= s.length()) {
            return -1;
        }
        int high = hex(s.charAt(percent + 1));
        int low = hex(s.charAt(percent + 2));
        return high < 0 || low < 0 ? -1 : high * 16 + low;
    }

    /** ASCII hex digits only: {@link Character#digit} would also take other scripts' digits. */
    private static int hex(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    }

    private static boolean unreserved(int c) {
        return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
                || c == '-' || c == '.' || c == '_' || c == '~';
    }
}
