package dev.oqp.common.config;

import java.util.Objects;

/**
 * Host selection in the queue proxy ({@code routing:}).
 *
 * @param strategy default {@link Strategy#MODEL_AWARE}
 * @param fallback what {@code model_aware} does when no host has the model; default {@link Fallback#ANY_HEALTHY}
 */
public record RoutingConfig(Strategy strategy, Fallback fallback) {

    /** {@code model_aware | least_busy | round_robin}. */
    public enum Strategy { MODEL_AWARE, LEAST_BUSY, ROUND_ROBIN }

    /** {@code any_healthy | reject}. */
    public enum Fallback { ANY_HEALTHY, REJECT }

    public static final RoutingConfig DEFAULT = new RoutingConfig(Strategy.MODEL_AWARE, Fallback.ANY_HEALTHY);

    public RoutingConfig {
        Objects.requireNonNull(strategy, "strategy");
        Objects.requireNonNull(fallback, "fallback");
    }
}
