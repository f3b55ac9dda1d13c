package dev.oqp.common.config;

import java.net.URI;
import java.net.URISyntaxException;

/** Validation and redaction of {@code embedding_cache.backend} URLs. */
public final class RedisUrls {

    private RedisUrls() {
    }

    /** Returns null when {@code s} is a valid redis/rediss URL, else the reason (never containing the password). */
    static String problem(String s) {
        int scheme = s.indexOf("://");
        int at = s.lastIndexOf('@');
        if (scheme >= 0 && at > scheme) {
            // Unencoded, these would end the credentials early and the rest would be read as host or path (and
            // echoed in a message): say what to do instead, without showing any of it.
            String userInfo = s.substring(scheme + 3, at);
            for (char c : new char[] {'/', '?', '#', '@', '[', ']'}) {
                if (userInfo.indexOf(c) >= 0) {
                    return "the user name or password contains '" + c + "': percent-encode it (/ as %2F, ? as %3F,"
                            + " # as %23, @ as %40, [ as %5B, ] as %5D)";
                }
            }
        }
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
            return "database " + path.substring(1) + " is not a non-negative integer";
        }
        return null;
    }

    /** {@code s} with the user-info's password (or the whole user-info when it has no colon) replaced by {@code ***}. */
    public static String redact(String s) {
        // The last '@' ends the credentials whatever they contain ('/', '?', '#' and '@' included), and a
        // mistyped scheme ("rediss:/user:pw@host") must not let them through either.
        int at = s.lastIndexOf('@');
        if (at < 0) {
            return s;
        }
        int scheme = s.indexOf("://");
        int start = scheme >= 0 && scheme < at ? scheme + 3 : 0;
        String userInfo = s.substring(start, at);
        int colon = userInfo.indexOf(':');
        String redacted = scheme >= 0 && colon >= 0 ? userInfo.substring(0, colon + 1) + "***" : "***";
        return s.substring(0, start) + redacted + s.substring(at);
    }
}
