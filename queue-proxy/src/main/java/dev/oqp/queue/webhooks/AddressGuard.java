package dev.oqp.queue.webhooks;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Supplier;

import dev.oqp.common.config.WebhooksConfig;
import org.eclipse.jetty.util.Promise;
import org.eclipse.jetty.util.SocketAddressResolver;

/**
 * The SSRF guard: a webhook may not reach an address inside the network the proxy runs in (loopback, private,
 * link-local, site-local, unspecified, CGNAT, multicast, reserved; such an IPv4 address inside IPv6 as mapped,
 * compatible, NAT64 {@code 64:ff9b::/96} or 6to4; the local-use NAT64 {@code 64:ff9b:1::/48}) unless its host name is in
 * {@code webhooks.allowed_hosts}. Checked at start and on every reload ({@link #check}: every address DNS gives
 * must pass), and again at every delivery ({@link Resolver}: the addresses connected to are the ones checked, so a
 * DNS answer that changes after the start cannot turn a webhook against an internal service).
 */
final class AddressGuard {

    /** What {@link #check} found: problems refuse the configuration, warnings are logged. */
    record Check(List<String> problems, List<String> warnings) {
    }

    /** A delivery's host resolved to a refused address: dropped, never retried. */
    static final class BlockedAddressException extends IOException {
        private static final long serialVersionUID = 1L;

        BlockedAddressException(String host, String why) {
            super("host " + host + " resolves to " + why);
        }
    }

    private AddressGuard() {
    }

    /**
     * Checks every endpoint of {@code config}: an IP literal, or each address its host name resolves to now. A
     * name that does not resolve is a warning (each delivery resolves it again and checks what it gets).
     */
    static Check check(WebhooksConfig config) {
        List<String> problems = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        for (int i = 0; i < config.endpoints().size(); i++) {
            String where = "webhooks.endpoints[" + i + "].url";
            String host = host(URI.create(config.endpoints().get(i).url()));
            if (allowed(host, config.allowedHosts())) {
                continue;
            }
            InetAddress[] addresses;
            try {
                addresses = InetAddress.getAllByName(host);
            } catch (UnknownHostException e) {
                warnings.add(where + ": host " + host + " does not resolve now; each delivery resolves it and checks"
                        + " the address it gets");
                continue;
            }
            for (InetAddress address : addresses) {
                String why = refused(address);
                if (why != null) {
                    problems.add(where + ": host " + host + " resolves to " + why + ", refused as an SSRF risk (list"
                            + " the host in webhooks.allowed_hosts to allow it)");
                    break;
                }
            }
        }
        return new Check(List.copyOf(problems), List.copyOf(warnings));
    }

    /** The URL's host, lower case, without the brackets of an IPv6 literal. */
    static String host(URI uri) {
        String host = uri.getHost();
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return host.toLowerCase(Locale.ROOT);
    }

    static boolean allowed(String host, List<String> allowedHosts) {
        String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        return allowedHosts.contains(h.toLowerCase(Locale.ROOT));
    }

    /** Why {@code address} may not be a webhook's, as {@code <address> (<range>)}, or null when it may. */
    static String refused(InetAddress address) {
        String range = range(address);
        return range == null ? null : address.getHostAddress() + " (" + range + ")";
    }

    private static String range(InetAddress address) {
        byte[] b = address.getAddress();
        if (address instanceof Inet4Address) {
            return range4(b);
        }
        if (address instanceof Inet6Address) {
            return range6(address, b);
        }
        return "unknown address family";
    }

    private static String range6(InetAddress address, byte[] b) {
        if (address.isAnyLocalAddress()) {
            return "unspecified ::";
        }
        if (address.isLoopbackAddress()) {
            return "loopback ::1";
        }
        if (zeros(b, 0, 10) && (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff) {
            return embedded("IPv4-mapped ", b, 12, 13, 14, 15);
        }
        if (zeros(b, 0, 12)) {
            return embedded("IPv4-compatible ", b, 12, 13, 14, 15);
        }
        int first = b[0] & 0xff;
        int second = b[1] & 0xff;
        if (first == 0 && second == 0x64 && (b[2] & 0xff) == 0xff && (b[3] & 0xff) == 0x9b) {
            if (zeros(b, 4, 12)) {
                return embedded("NAT64 64:ff9b::/96 ", b, 12, 13, 14, 15);
            }
            if (b[4] == 0 && b[5] == 1) {
                // Local-use (RFC 8215), not globally reachable, and each network cuts it at its own length (RFC 6052
                // puts the IPv4 address elsewhere for each): the whole prefix is refused.
                return "local-use NAT64 64:ff9b:1::/48";
            }
        }
        if (first == 0x20 && second == 0x02) {
            return embedded("6to4 2002::/16 ", b, 2, 3, 4, 5);
        }
        if ((first & 0xfe) == 0xfc) {
            return "private fc00::/7";
        }
        if (first == 0xfe && (second & 0xc0) == 0x80) {
            return "link-local fe80::/10";
        }
        if (first == 0xfe && (second & 0xc0) == 0xc0) {
            return "site-local fec0::/10";
        }
        if (first == 0xff) {
            return "multicast ff00::/8";
        }
        return null;
    }

    /** The refused range of the IPv4 address at bytes {@code i} of {@code b}, named with its carrier, or null. */
    private static String embedded(String form, byte[] b, int... i) {
        String inner = range4(new byte[] {b[i[0]], b[i[1]], b[i[2]], b[i[3]]});
        return inner == null ? null : form + inner;
    }

    private static boolean zeros(byte[] b, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }

    private static String range4(byte[] b) {
        int a0 = b[0] & 0xff;
        int a1 = b[1] & 0xff;
        if (a0 == 0) {
            return "unspecified 0.0.0.0/8";
        }
        if (a0 == 127) {
            return "loopback 127.0.0.0/8";
        }
        if (a0 == 10) {
            return "private 10.0.0.0/8";
        }
        if (a0 == 172 && (a1 & 0xf0) == 16) {
            return "private 172.16.0.0/12";
        }
        if (a0 == 192 && a1 == 168) {
            return "private 192.168.0.0/16";
        }
        if (a0 == 169 && a1 == 254) {
            return "link-local 169.254.0.0/16";
        }
        if (a0 == 100 && (a1 & 0xc0) == 64) {
            return "shared (CGNAT) 100.64.0.0/10";
        }
        if (a0 >= 224) {
            return a0 < 240 ? "multicast 224.0.0.0/4" : "reserved 240.0.0.0/4";
        }
        return null;
    }

    /**
     * Resolves a delivery's host on {@code executor} (never on the caller's thread) and fails it with a
     * {@link BlockedAddressException} when an address is refused and the host is not allowed.
     */
    static final class Resolver implements SocketAddressResolver {
        private final Executor executor;
        private final Supplier<List<String>> allowedHosts;

        Resolver(Executor executor, Supplier<List<String>> allowedHosts) {
            this.executor = executor;
            this.allowedHosts = allowedHosts;
        }

        @Override
        public void resolve(String host, int port, Map<String, Object> context, Promise<List<InetSocketAddress>> promise) {
            try {
                executor.execute(() -> resolveNow(host, port, promise));
            } catch (RejectedExecutionException e) {
                promise.failed(e);
            }
        }

        private void resolveNow(String host, int port, Promise<List<InetSocketAddress>> promise) {
            try {
                InetAddress[] addresses = InetAddress.getAllByName(host);
                boolean allowed = allowed(host, allowedHosts.get());
                List<InetSocketAddress> out = new ArrayList<>(addresses.length);
                for (InetAddress address : addresses) {
                    String why = allowed ? null : refused(address);
                    if (why != null) {
                        promise.failed(new BlockedAddressException(host, why));
                        return;
                    }
                    out.add(new InetSocketAddress(address, port));
                }
                promise.succeeded(out);
            } catch (UnknownHostException | RuntimeException e) {
                promise.failed(e);
            }
        }
    }
}
