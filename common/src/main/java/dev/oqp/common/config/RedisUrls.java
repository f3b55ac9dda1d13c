package dev.oqp.common.config;

import java.net.URI;
import java.net.URISyntaxException;

/** Validation and redaction of {@code embedding_cache.backend} URLs. */
final class RedisUrls {

    private RedisUrls() {
    }

    /** Returns null when {@code s} is a valid redis/rediss URL, else the reason (never containing the password). */
    static String problem(String s) {
        URI uri;
        try {
            uri = new URI(s);
        } catch (URISyntaxException e) {
            return "not a valid URL";
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
            return "query and fragment are not supported";
        }
        if (uri.getHost() == null) {
            return "has no host";
        }
        if (uri.getPort() == 0 || uri.getPort() > 65535) {
            return "port " + uri.getPort() + " (expected: 1-65535)";
        }
        String path = uri.getRawPath() == null ? "" : uri.getRawPath();
        if (!path.isEmpty() && !path.equals("/") && !path.matches("/\\d{1,9}")) {
            return "database " + path.substring(1) + " (expected: a non-negative integer)";
        }
        return null;
    }

    /** {@code s} with the user-info's password (or the whole user-info when it has no colon) replaced by {@code ***}. */
    static String redact(String s) {
        int scheme = s.indexOf("://");
        if (scheme < 0) {
            return s;
        }
        int start = scheme + 3;
        int end = s.length();
        for (char c : new char[] {'/', '?', '#'}) {
            int i = s.indexOf(c, start);
            if (i >= 0 && i < end) {
                end = i;
            }
        }
        int at = s.lastIndexOf('@', end - 1);
        if (at < start) {
            return s;
        }
        String userInfo = s.substring(start, at);
        int colon = userInfo.indexOf(':');
        String redacted = colon >= 0 ? userInfo.substring(0, colon + 1) + "***" : "***";
        return s.substring(0, start) + redacted + s.substring(at);
    }
}
