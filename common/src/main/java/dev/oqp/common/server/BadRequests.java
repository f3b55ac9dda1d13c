package dev.oqp.common.server;

import java.util.Locale;

/**
 * What a request Jetty refused as malformed is counted and logged as: a reason from a fixed set (a metric label)
 * and bounded, escaped excerpts of the client's text (a log value).
 */
public final class BadRequests {
    /** Characters of the client's text a log line keeps. */
    public static final int EXCERPT_CHARS = 64;

    /** The reasons a refusal is counted by, for a metric's help text. */
    public static final String REASONS = "host (a duplicated or malformed Host), header_too_large, uri_too_long,"
            + " target (a malformed or ambiguous request target), other";

    private BadRequests() {
    }

    /** The reason label of a refusal with {@code status} and Jetty's {@code message}: one of {@link #REASONS}. */
    static String reason(int status, String message) {
        if (status == 431) {
            return "header_too_large";
        }
        if (status == 414) {
            return "uri_too_long";
        }
        String lower = message == null ? "" : message.toLowerCase(Locale.ROOT);
        if (lower.contains("host") || lower.contains("authority")) {
            return "host";
        }
        if (lower.contains("uri") || lower.contains("path")) {
            return "target";
        }
        return "other";
    }

    /**
     * At most {@link #EXCERPT_CHARS} characters of {@code text}, with anything but printable ASCII, {@code \} and
     * {@code "} escaped as {@code \\uXXXX}, and the length of the rest when cut.
     */
    static String excerpt(String text) {
        if (text == null) {
            return "";
        }
        int keep = Math.min(text.length(), EXCERPT_CHARS);
        StringBuilder sb = new StringBuilder(keep + 16);
        for (int i = 0; i < keep; i++) {
            char c = text.charAt(i);
            if (c < 0x20 || c > 0x7e || c == '\\' || c == '"') {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        if (text.length() > keep) {
            sb.append("...(").append(text.length() - keep).append(" more)");
        }
        return sb.toString();
    }
}
