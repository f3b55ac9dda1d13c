package dev.oqp.common.config;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Environment interpolation of one string value: {@code ${VAR}} (set and non-empty),
 * {@code ${VAR:-default}} (default when unset or empty, taken literally), {@code $$} for a literal
 * {@code $}; any other {@code $} is kept. Substituted text is never interpolated again.
 */
final class Interpolator {

    private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    private Interpolator() {
    }

    /** Returns the interpolated text, or {@code null} after adding one message per problem to {@code problems}. */
    static String interpolate(String s, Map<String, String> env, List<String> problems) {
        if (s.indexOf('$') < 0) {
            return s;
        }
        StringBuilder out = new StringBuilder(s.length());
        int before = problems.size();
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c != '$' || i + 1 >= s.length()) {
                out.append(c);
                i++;
                continue;
            }
            char next = s.charAt(i + 1);
            if (next == '$') {
                out.append('$');
                i += 2;
            } else if (next == '{') {
                int end = s.indexOf('}', i + 2);
                if (end < 0) {
                    problems.add("unterminated ${ at character " + (i + 1) + " (expected: ${VAR} or ${VAR:-default})");
                    break;
                }
                String inner = s.substring(i + 2, end);
                int sep = inner.indexOf(":-");
                String name = sep < 0 ? inner : inner.substring(0, sep);
                if (!NAME.matcher(name).matches()) {
                    problems.add("invalid variable name \"" + name + "\" in ${" + inner
                            + "} (expected: letters, digits and _, not starting with a digit)");
                } else {
                    String value = env.get(name);
                    if (sep >= 0) {
                        out.append(value == null || value.isEmpty() ? inner.substring(sep + 2) : value);
                    } else if (value == null) {
                        problems.add("environment variable " + name + " is not set");
                    } else if (value.isEmpty()) {
                        problems.add("environment variable " + name + " is empty");
                    } else {
                        out.append(value);
                    }
                }
                i = end + 1;
            } else {
                out.append(c);
                i++;
            }
        }
        return problems.size() == before ? out.toString() : null;
    }
}
