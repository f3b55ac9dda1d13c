package dev.oqp.common.config;

/** {@code Authorization: Bearer <token>} values, read one way everywhere (config checks and requests). */
public final class BearerTokens {
    private BearerTokens() {
    }

    /**
     * The token of an Authorization value {@code Bearer <token>}, as both the config check and the queue proxy read it:
     * stripped, the scheme matched ignoring case, then spaces or tabs, then a token without whitespace or control
     * characters; {@code null} for anything else.
     */
    public static String parse(String value) {
        if (value == null) {
            return null;
        }
        String v = value.strip();
        String scheme = "bearer";
        if (v.length() <= scheme.length() || !v.regionMatches(true, 0, scheme, 0, scheme.length())) {
            return null;
        }
        int start = scheme.length();
        if (v.charAt(start) != ' ' && v.charAt(start) != '\t') {
            return null;
        }
        while (start < v.length() && (v.charAt(start) == ' ' || v.charAt(start) == '\t')) {
            start++;
        }
        String token = v.substring(start);
        if (token.isEmpty()) {
            return null;
        }
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (Character.isWhitespace(c) || Character.isISOControl(c) || Character.isSpaceChar(c)) {
                return null;
            }
        }
        return token;
    }
}
