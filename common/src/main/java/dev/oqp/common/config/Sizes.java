package dev.oqp.common.config;

import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The size syntax of the config file: a whole number followed by an optional unit, binary
 * ({@code KiB}, {@code MiB}, {@code GiB}, {@code TiB}, powers of 1024) or decimal ({@code KB},
 * {@code MB}, {@code GB}, {@code TB}, powers of 1000), or {@code B}; units are matched without
 * regard to case; a bare integer is bytes. A leading {@code -} is accepted so that callers can
 * report a negative value against its allowed range.
 */
public final class Sizes {

    private static final Pattern SIZE = Pattern.compile("(-?\\d+)\\s*([A-Za-z]*)");
    private static final Map<String, Long> UNITS = Map.of(
            "", 1L, "b", 1L,
            "kib", 1L << 10, "mib", 1L << 20, "gib", 1L << 30, "tib", 1L << 40,
            "kb", 1_000L, "mb", 1_000_000L, "gb", 1_000_000_000L, "tb", 1_000_000_000_000L);
    private static final String[] BINARY = {"TiB", "GiB", "MiB", "KiB"};
    private static final long[] BINARY_BYTES = {1L << 40, 1L << 30, 1L << 20, 1L << 10};

    private Sizes() {
    }

    /**
     * Parses a size into bytes.
     *
     * @throws IllegalArgumentException with a message naming the accepted syntax
     */
    public static long parse(String s) {
        if (s == null) {
            throw new IllegalArgumentException("null (expected: a size such as 64KiB, 50MiB, 1GiB, or whole bytes)");
        }
        Matcher m = SIZE.matcher(s.trim());
        Long unit = m.matches() ? UNITS.get(m.group(2).toLowerCase(Locale.ROOT)) : null;
        if (unit == null) {
            throw new IllegalArgumentException((s.isEmpty() ? "\"\"" : s)
                    + " (expected: a size such as 64KiB, 50MiB, 1GiB, or whole bytes)");
        }
        try {
            return Math.multiplyExact(Long.parseLong(m.group(1)), unit);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException(s + " (expected: a size that fits in 64 bits of bytes)");
        }
    }

    /** Formats bytes in the largest binary unit that divides them exactly ({@code 64MiB}), else as bare bytes. */
    public static String format(long bytes) {
        if (bytes != 0) {
            for (int i = 0; i < BINARY.length; i++) {
                if (bytes % BINARY_BYTES[i] == 0) {
                    return (bytes / BINARY_BYTES[i]) + BINARY[i];
                }
            }
        }
        return Long.toString(bytes);
    }
}
