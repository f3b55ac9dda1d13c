package dev.oqp.queue.auth;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

import dev.oqp.common.config.Cidr;

/**
 * The address of the real client behind {@code proxy.trusted_proxies}, used to key the {@link FailureLimiter} and
 * in logs.
 *
 * <p>The rule: when the peer that connected is not a trusted proxy, {@code X-Forwarded-For} is ignored (anyone can
 * write it) and the peer is the client. When the peer is trusted, the header is read from the right, the end its
 * own proxies appended to: trusted addresses are skipped, and the first untrusted address is the client. Entries
 * further left were written by that client and are never believed. If every entry is trusted, the left-most one is
 * returned. An entry that is not an IP literal (empty, a name, {@code unknown}, garbage) stops the walk, and the last
 * trusted hop reached is returned: it is the last address known to be true, and blaming it is conservative.
 *
 * <p>Several header fields are read as one comma-separated list, in order. Entries may carry a port
 * ({@code 192.0.2.1:5678}, {@code [2001:db8::1]:443}), IPv6 brackets or a zone ({@code %eth0}); these are dropped.
 * Results are canonical ({@link InetAddress#getHostAddress()}; IPv4-mapped IPv6 becomes IPv4), so one client
 * always has one key; a peer that is not an IP literal is returned unchanged.
 */
public final class ClientAddress {

    private ClientAddress() {
    }

    /**
     * The client's address by the rule above.
     *
     * @param peerAddress         the address of the TCP peer
     * @param xForwardedForValues every {@code X-Forwarded-For} field of the request, in order; may be empty
     * @param trustedProxies      {@code proxy.trusted_proxies}; empty = trust none
     */
    public static String resolve(String peerAddress, List<String> xForwardedForValues, List<Cidr> trustedProxies) {
        if (trustedProxies.isEmpty() && isPlainIpv4(peerAddress)) {
            // The common case, on every request: nothing to walk, and a dotted quad is already canonical.
            return peerAddress;
        }
        InetAddress peer = parse(peerAddress);
        if (peer == null) {
            return peerAddress;
        }
        InetAddress hop = peer;
        if (trusted(hop, trustedProxies)) {
            List<String> entries = entries(xForwardedForValues);
            for (int i = entries.size() - 1; i >= 0; i--) {
                InetAddress claimed = parse(entries.get(i));
                if (claimed == null) {
                    break;
                }
                hop = claimed;
                if (!trusted(hop, trustedProxies)) {
                    break;
                }
            }
        }
        return hop.getHostAddress();
    }

    /** Four dotted decimal parts of 0-255 without leading zeros: what {@link InetAddress#getHostAddress()} writes. */
    static boolean isPlainIpv4(String s) {
        if (s == null) {
            return false;
        }
        int parts = 0;
        int value = -1;
        int digits = 0;
        for (int i = 0; i <= s.length(); i++) {
            char c = i < s.length() ? s.charAt(i) : '.';
            if (c == '.') {
                if (digits == 0 || value > 255 || (digits > 1 && s.charAt(i - digits) == '0')) {
                    return false;
                }
                parts++;
                value = -1;
                digits = 0;
            } else if (c >= '0' && c <= '9') {
                value = (value < 0 ? 0 : value * 10) + (c - '0');
                if (++digits > 3) {
                    return false;
                }
            } else {
                return false;
            }
        }
        return parts == 4;
    }

    private static boolean trusted(InetAddress address, List<Cidr> trustedProxies) {
        for (Cidr cidr : trustedProxies) {
            if (cidr.contains(address)) {
                return true;
            }
        }
        return false;
    }

    private static List<String> entries(List<String> values) {
        List<String> entries = new ArrayList<>();
        for (String value : values) {
            if (value != null) {
                for (String entry : value.split(",", -1)) {
                    entries.add(entry.strip());
                }
            }
        }
        return entries;
    }

    /** An IP literal with optional brackets, port and zone, without DNS; {@code null} when it is anything else. */
    private static InetAddress parse(String s) {
        if (s == null) {
            return null;
        }
        String literal = s.strip();
        if (literal.startsWith("[")) {
            int close = literal.indexOf(']');
            if (close < 0 || !(close == literal.length() - 1 || port(literal.substring(close + 1)))) {
                return null;
            }
            literal = literal.substring(1, close);
        } else {
            int colon = literal.indexOf(':');
            if (colon >= 0 && colon == literal.lastIndexOf(':')) {
                if (!port(literal.substring(colon))) {
                    return null;
                }
                literal = literal.substring(0, colon);
            }
        }
        int zone = literal.indexOf('%');
        if (zone >= 0) {
            literal = literal.substring(0, zone);
        }
        if (literal.isEmpty() || literal.indexOf('/') >= 0) {
            return null;
        }
        try {
            return Cidr.parse(literal).address();
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static boolean port(String colonAndDigits) {
        return colonAndDigits.matches(":\\d{1,5}");
    }
}
