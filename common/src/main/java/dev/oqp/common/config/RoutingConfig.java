package dev.oqp.common.config;

import java.util.Objects;

/**
 * Host selection in the queue proxy ({@code routing:}).
 *
 * @param strategy default {@link Strategy#MODEL_AWARE}
 * @param fallback what happens to a request for a model no healthy host has; default {@link Fallback#ANY_HEALTHY}
 * @param protectColdLoads keep an upstream request that is loading its model until its first byte when the
 *                 client leaves, so that the load is not aborted and repeated; default true
 */
public record RoutingConfig(Strategy strategy, Fallback fallback, boolean protectColdLoads) {

    /** {@code model_aware | least_busy | round_robin}. */
    public enum Strategy { MODEL_AWARE, LEAST_BUSY, ROUND_ROBIN }

    /** {@code any_healthy | reject}. */
    public enum Fallback { ANY_HEALTHY, REJECT }

    public static final RoutingConfig DEFAULT = new RoutingConfig(Strategy.MODEL_AWARE, Fallback.ANY_HEALTHY, true);

    public RoutingConfig {
        Objects.requireNonNull(strategy, "strategy");
        Objects.requireNonNull(fallback, "fallback");
    }
}
