package dev.oqp.common.config;

import static dev.oqp.common.config.Values.or;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Binds {@code proxy:}, the queue proxy's main listener; its port is claimed even when left to the default. */
final class ProxyBinder {

    /** The keys of {@code proxy:}. */
    enum Key { HOST, PORT, ALLOW_PUBLIC, MAX_CONCURRENT, MAX_BODY, DRAIN_TIMEOUT, TRUSTED_PROXIES, ALLOW_MODEL_MANAGEMENT }

    private ProxyBinder() {
    }

    static ProxyConfig bind(Node node, Binding b) {
        Node.Mapping<Key> m = node.mapping(Key.class);
        boolean allowPublic = or(m.get(Key.ALLOW_PUBLIC).bool(), ProxyConfig.DEFAULT_ALLOW_PUBLIC);
        String host = Values.bindAddress(m.get(Key.HOST), allowPublic, Node.keyName(Key.ALLOW_PUBLIC),
                ProxyConfig.DEFAULT_HOST);
        Integer port = b.checks.port(m.get(Key.PORT), false);
        if (m.get(Key.PORT).absent() && b.target == Target.QUEUE_PROXY) {
            // Only the queue proxy listens there: the sidecar may reuse the port.
            b.checks.claim(ProxyConfig.DEFAULT_PORT, "proxy.port (default)");
        }
        int maxConcurrent = or(m.get(Key.MAX_CONCURRENT).integer(0, Integer.MAX_VALUE),
                ProxyConfig.DEFAULT_MAX_CONCURRENT);
        long maxBody = or(m.get(Key.MAX_BODY).size(), ProxyConfig.DEFAULT_MAX_BODY);
        Duration drain = or(m.get(Key.DRAIN_TIMEOUT).duration(false), ProxyConfig.DEFAULT_DRAIN_TIMEOUT);
        List<Cidr> trusted = trustedProxies(m.get(Key.TRUSTED_PROXIES));
        boolean management = or(m.get(Key.ALLOW_MODEL_MANAGEMENT).bool(), ProxyConfig.DEFAULT_ALLOW_MODEL_MANAGEMENT);
        return b.build(node.path, () -> new ProxyConfig(host, or(port, ProxyConfig.DEFAULT_PORT), allowPublic,
                maxConcurrent, maxBody, drain, trusted, management));
    }

    /** The valid CIDRs of the list; each invalid one is a problem. */
    private static List<Cidr> trustedProxies(Node node) {
        List<Cidr> trusted = new ArrayList<>();
        for (Node n : node.elements()) {
            String text = n.string();
            if (text == null) {
                if (n.absent()) {
                    n.problem("expected a CIDR, got null");
                }
                continue;
            }
            try {
                trusted.add(Cidr.parse(text.trim()));
            } catch (IllegalArgumentException e) {
                n.problem(e.getMessage());
            }
        }
        return trusted;
    }
}
