package dev.oqp.queue.auth;

import java.util.List;
import java.util.Objects;

import dev.oqp.common.config.KeyConfig;
import dev.oqp.common.config.RateLimits;
import dev.oqp.common.config.Scope;
import dev.oqp.common.config.Tier;

/**
 * An authenticated client: what one key may do. Holds no secret, so it is safe to log.
 *
 * @param clientId      the configured client id ({@code anonymous} when authentication is disabled)
 * @param scope         what the client may call
 * @param maxPriority   the highest tier the client may request
 * @param maxConcurrent requests in flight upstream for this client; 0 = no cap
 * @param models        allowed model name globs, see {@link ModelGlobs}; empty = all models
 * @param limits        requests and tokens per minute, tokens per day
 */
public record Client(String clientId, Scope scope, Tier maxPriority, int maxConcurrent, List<String> models,
                     RateLimits limits) {

    /**
     * The single client everyone is when authentication is disabled: scope management, priority uncapped, no
     * concurrency cap, all models.
     */
    public static final Client ANONYMOUS = new Client("anonymous", Scope.MANAGEMENT, Tier.HIGH, 0, List.of());

    public Client {
        Objects.requireNonNull(clientId, "clientId");
        Objects.requireNonNull(scope, "scope");
        Objects.requireNonNull(maxPriority, "maxPriority");
        if (maxConcurrent < 0) {
            throw new IllegalArgumentException("maxConcurrent: " + maxConcurrent + " (expected: >= 0)");
        }
        models = List.copyOf(models);
        Objects.requireNonNull(limits, "limits");
    }

    /** A client without rate limits. */
    public Client(String clientId, Scope scope, Tier maxPriority, int maxConcurrent, List<String> models) {
        this(clientId, scope, maxPriority, maxConcurrent, models, RateLimits.NONE);
    }

    /** The client a configured key stands for. */
    public static Client of(KeyConfig key) {
        return new Client(key.clientId(), key.scope(), key.maxPriority(), key.maxConcurrent(), key.models(), key.limits());
    }

    /**
     * True only for {@link #ANONYMOUS} itself (by identity), the client used when authentication is disabled; a
     * configured key whose client id happens to be {@code anonymous} is not anonymous.
     */
    public boolean anonymous() {
        return this == ANONYMOUS;
    }

    /**
     * True when this client may use the model; {@code normalisedModelName} is {@code name:tag} as produced by the
     * request classifier. See {@link ModelGlobs#allows(List, String)} for the matching rule.
     */
    public boolean allowsModel(String normalisedModelName) {
        return ModelGlobs.allows(models, normalisedModelName);
    }
}
