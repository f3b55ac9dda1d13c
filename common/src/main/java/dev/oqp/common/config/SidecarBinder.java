package dev.oqp.common.config;

import static dev.oqp.common.config.Values.or;

import java.time.Duration;

/** Binds {@code sidecar:}; both binaries validate it, so its metrics port is claimed by both. */
final class SidecarBinder {

    /** The keys of {@code sidecar:}. */
    enum Key { METRICS_PORT, METRICS_BIND, METRICS_ALLOW_PUBLIC, DRAIN_TIMEOUT }

    private SidecarBinder() {
    }

    static SidecarConfig bind(Node node, Binding b) {
        Node.Mapping<Key> m = node.mapping(Key.class);
        int metricsPort = SidecarConfig.DEFAULT.metricsPort();
        Node portNode = m.get(Key.METRICS_PORT);
        if (!portNode.absent()) {
            // 0 turns the endpoint off, so it is neither a privileged port nor claimed.
            Integer p = portNode.integer(0, 65535);
            if (p != null && p != 0 && p < 1024) {
                portNode.problem(p + " (expected: 0 or 1024-65535)");
            } else if (p != null && p != 0) {
                b.checks.claim(p, portNode.path);
                metricsPort = p;
            }
        }
        boolean allowPublic = or(m.get(Key.METRICS_ALLOW_PUBLIC).bool(), SidecarConfig.DEFAULT.metricsAllowPublic());
        String bind = Values.bindAddress(m.get(Key.METRICS_BIND), allowPublic, Node.keyName(Key.METRICS_ALLOW_PUBLIC),
                SidecarConfig.DEFAULT.metricsBind());
        Duration drain = or(m.get(Key.DRAIN_TIMEOUT).duration(false), SidecarConfig.DEFAULT.drainTimeout());
        int port = metricsPort;
        return b.build(node.path, () -> new SidecarConfig(port, bind, allowPublic, drain));
    }
}
