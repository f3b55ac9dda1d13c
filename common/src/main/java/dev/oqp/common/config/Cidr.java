package dev.oqp.common.config;

import java.net.InetAddress;
import java.util.Objects;

/**
 * An IPv4 or IPv6 network, as written in {@code proxy.trusted_proxies}: {@code 10.0.0.0/8},
 * {@code fd00::/8}, or a single address (a /32 or /128). Host bits after the prefix are ignored.
 *
 * @param address      the address as written (not masked)
 * @param prefixLength 0-32 for IPv4, 0-128 for IPv6
 */
public record Cidr(InetAddress address, int prefixLength) {

    public Cidr {
        Objects.requireNonNull(address, "address");
        int bits = address.getAddress().length * 8;
        if (prefixLength < 0 || prefixLength > bits) {
            throw new IllegalArgumentException("prefixLength: " + prefixLength + " (expected: 0-" + bits + ")");
        }
    }

    /**
     * Parses {@code address[/prefix]} without DNS.
     *
     * @throws IllegalArgumentException when {@code s} is not an IP literal with an optional valid prefix
     */
    public static Cidr parse(String s) {
        int slash = s.indexOf('/');
        InetAddress address = InetLiterals.parse(slash < 0 ? s : s.substring(0, slash));
        if (address == null) {
            throw new IllegalArgumentException(s + " (expected: an IPv4 or IPv6 address or CIDR such as 10.0.0.0/8 or fd00::/8)");
        }
        int bits = address.getAddress().length * 8;
        if (slash < 0) {
            return new Cidr(address, bits);
        }
        String prefix = s.substring(slash + 1);
        if (!prefix.matches("\\d{1,3}") || Integer.parseInt(prefix) > bits) {
            throw new IllegalArgumentException(s + " (expected: a prefix length 0-" + bits + ")");
        }
        return new Cidr(address, Integer.parseInt(prefix));
    }

    /** True when {@code candidate} is of the same family and its first {@code prefixLength} bits match. */
    public boolean contains(InetAddress candidate) {
        byte[] net = address.getAddress();
        byte[] other = candidate.getAddress();
        if (net.length != other.length) {
            return false;
        }
        int full = prefixLength / 8;
        for (int i = 0; i < full; i++) {
            if (net[i] != other[i]) {
                return false;
            }
        }
        int rest = prefixLength % 8;
        if (rest == 0) {
            return true;
        }
        int mask = (0xff << (8 - rest)) & 0xff;
        return (net[full] & mask) == (other[full] & mask);
    }

    @Override
    public String toString() {
        return address.getHostAddress() + "/" + prefixLength;
    }
}
