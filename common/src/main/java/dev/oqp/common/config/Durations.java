package dev.oqp.common.config;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The duration syntax of the config file: {@code 250ms}, {@code 30s}, {@code 5m}, {@code 1h30m},
 * {@code 2h}, {@code 1d}, units in descending order, each at most once, or a bare integer of
 * seconds. A leading {@code -} is accepted so that callers can report a negative value against its
 * allowed range instead of as a syntax error.
 */
public final class Durations {

    private static final Pattern UNITS = Pattern.compile(
            "(?:(\\d+)d)?(?:(\\d+)h)?(?:(\\d+)m(?!s))?(?:(\\d+)s)?(?:(\\d+)ms)?");
    private static final long[] MILLIS = {86_400_000L, 3_600_000L, 60_000L, 1_000L, 1L};
    private static final String[] NAMES = {"d", "h", "m", "s", "ms"};

    private Durations() {
    }

    /**
     * Parses a duration.
     *
     * @throws IllegalArgumentException with a message naming the accepted syntax, when {@code s}
     *         is not a duration or does not fit in a {@code long} of milliseconds
     */
    public static Duration parse(String s) {
        if (s == null) {
            throw new IllegalArgumentException("null (expected: a duration such as 250ms, 30s, 5m, 1h30m, or whole seconds)");
        }
        String text = s.trim();
        boolean negative = text.startsWith("-");
        String body = negative ? text.substring(1) : text;
        try {
            if (!body.isEmpty() && body.chars().allMatch(c -> c >= '0' && c <= '9')) {
                long seconds = Long.parseLong(body);
                return Duration.ofMillis(Math.multiplyExact(negative ? -seconds : seconds, 1000L));
            }
            Matcher m = UNITS.matcher(body);
            if (body.isEmpty() || !m.matches()) {
                throw new IllegalArgumentException(quote(s) + " (expected: a duration such as 250ms, 30s, 5m, 1h30m, or whole seconds)");
            }
            long total = 0;
            for (int i = 0; i < MILLIS.length; i++) {
                String group = m.group(i + 1);
                if (group != null) {
                    total = Math.addExact(total, Math.multiplyExact(Long.parseLong(group), MILLIS[i]));
                }
            }
            return Duration.ofMillis(negative ? -total : total);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException(quote(s) + " (expected: a duration that fits in 64 bits of milliseconds)");
        }
    }

    /**
     * Formats a duration in the syntax {@link #parse} reads, largest units first, without days
     * ({@code 24h}, {@code 1h30m}, {@code 250ms}, {@code 0s}); sub-millisecond parts are dropped.
     */
    public static String format(Duration d) {
        long millis = d.toMillis();
        if (millis == 0) {
            return "0s";
        }
        StringBuilder sb = new StringBuilder();
        if (millis < 0) {
            sb.append('-');
            millis = -millis;
        }
        for (int i = 1; i < MILLIS.length; i++) {
            long n = millis / MILLIS[i];
            if (n > 0) {
                sb.append(n).append(NAMES[i]);
                millis -= n * MILLIS[i];
            }
        }
        return sb.toString();
    }

    private static String quote(String s) {
        return s.isEmpty() ? "\"\"" : s;
    }
}
