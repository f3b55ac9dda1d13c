package dev.oqp.common.config;

import static dev.oqp.common.config.Values.or;

/** Binds {@code routing:}. */
final class RoutingBinder {

    /** The keys of {@code routing:}. */
    enum Key { STRATEGY, FALLBACK, PROTECT_COLD_LOADS }

    private RoutingBinder() {
    }

    static RoutingConfig bind(Node node) {
        Node.Mapping<Key> m = node.mapping(Key.class);
        RoutingConfig.Strategy strategy = or(m.get(Key.STRATEGY).choice(RoutingConfig.Strategy.class),
                RoutingConfig.DEFAULT.strategy());
        RoutingConfig.Fallback fallback = or(m.get(Key.FALLBACK).choice(RoutingConfig.Fallback.class),
                RoutingConfig.DEFAULT.fallback());
        boolean protectColdLoads = or(m.get(Key.PROTECT_COLD_LOADS).bool(), RoutingConfig.DEFAULT.protectColdLoads());
        return new RoutingConfig(strategy, fallback, protectColdLoads);
    }
}
