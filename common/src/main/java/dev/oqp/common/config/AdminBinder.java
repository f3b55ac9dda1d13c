package dev.oqp.common.config;

import static dev.oqp.common.config.Values.or;

/** Binds {@code admin:}. */
final class AdminBinder {

    /** The keys of {@code admin:}. */
    enum Key { METRICS_PUBLIC, DASHBOARD }

    private AdminBinder() {
    }

    static AdminConfig bind(Node node) {
        Node.Mapping<Key> m = node.mapping(Key.class);
        return new AdminConfig(or(m.get(Key.METRICS_PUBLIC).bool(), AdminConfig.DEFAULT.metricsPublic()),
                or(m.get(Key.DASHBOARD).bool(), AdminConfig.DEFAULT.dashboard()));
    }
}
