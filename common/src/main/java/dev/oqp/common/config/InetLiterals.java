package dev.oqp.common.config;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.regex.Pattern;

/** Parses IP address literals without ever asking a resolver. */
public final class InetLiterals {

    private static final Pattern V4 = Pattern.compile(
            "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}");
    private static final Pattern HEX_GROUP = Pattern.compile("[0-9A-Fa-f]{1,4}");

    private InetLiterals() {
    }

    /** Returns the address for an IPv4 dotted-quad or IPv6 literal (no brackets, no zone), else {@code null}. */
    static InetAddress parse(String s) {
        byte[] bytes = V4.matcher(s).matches() ? v4(s) : s.indexOf(':') >= 0 ? v6(s) : null;
        if (bytes == null) {
            return null;
        }
        try {
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            return null;
        }
    }

    /**
     * True for {@code localhost} and for literals in 127.0.0.0/8 or {@code ::1} (bracketed or not): the one
     * loopback check of both binaries (bind addresses, listeners, {@code Host} values).
     */
    public static boolean isLoopback(String host) {
        if (host.equalsIgnoreCase("localhost")) {
            return true;
        }
        String literal = host.length() > 2 && host.startsWith("[") && host.endsWith("]")
                ? host.substring(1, host.length() - 1) : host;
        InetAddress address = parse(literal);
        return address != null && address.isLoopbackAddress();
    }

    private static byte[] v4(String s) {
        String[] parts = s.split("\\.");
        byte[] b = new byte[4];
        for (int i = 0; i < 4; i++) {
            b[i] = (byte) Integer.parseInt(parts[i]);
        }
        return b;
    }

    private static byte[] v6(String s) {
        int doubleColon = s.indexOf("::");
        if (doubleColon >= 0 && s.indexOf("::", doubleColon + 1) >= 0) {
            return null;
        }
        String head = doubleColon >= 0 ? s.substring(0, doubleColon) : s;
        String tail = doubleColon >= 0 ? s.substring(doubleColon + 2) : "";
        int[] headGroups = groups(head, doubleColon < 0 || tail.isEmpty());
        int[] tailGroups = doubleColon >= 0 ? groups(tail, true) : new int[0];
        if (headGroups == null || tailGroups == null) {
            return null;
        }
        int total = headGroups.length + tailGroups.length;
        if (doubleColon >= 0 ? total > 7 : total != 8) {
            return null;
        }
        byte[] b = new byte[16];
        int pos = 0;
        for (int g : headGroups) {
            b[pos++] = (byte) (g >> 8);
            b[pos++] = (byte) g;
        }
        pos = 16 - tailGroups.length * 2;
        for (int g : tailGroups) {
            b[pos++] = (byte) (g >> 8);
            b[pos++] = (byte) g;
        }
        return b;
    }

    /** Colon-separated hex groups; the last may be a dotted quad (counted as two groups) when allowed. */
    private static int[] groups(String s, boolean v4TailAllowed) {
        if (s.isEmpty()) {
            return new int[0];
        }
        String[] parts = s.split(":", -1);
        int extra = 0;
        String last = parts[parts.length - 1];
        boolean v4Tail = v4TailAllowed && last.indexOf('.') >= 0;
        if (v4Tail) {
            if (!V4.matcher(last).matches()) {
                return null;
            }
            extra = 1;
        }
        int[] out = new int[parts.length + extra];
        for (int i = 0; i < parts.length; i++) {
            if (v4Tail && i == parts.length - 1) {
                byte[] q = v4(last);
                out[i] = ((q[0] & 0xff) << 8) | (q[1] & 0xff);
                out[i + 1] = ((q[2] & 0xff) << 8) | (q[3] & 0xff);
            } else if (HEX_GROUP.matcher(parts[i]).matches()) {
                out[i] = Integer.parseInt(parts[i], 16);
            } else {
                return null;
            }
        }
        return out;
    }
}
