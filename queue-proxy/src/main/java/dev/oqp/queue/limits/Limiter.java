package dev.oqp.queue.limits;

import java.util.concurrent.CompletableFuture;

import dev.oqp.common.config.RateLimits;

/**
 * A client's rate limits as the request path sees them: {@link #check} when an inference request arrives, then
 * {@link #settle} exactly once when it ends, whatever happened to it. Two implementations: {@link RateLimiter}
 * in this process's memory (decides at once), and {@link SharedRateLimiter}, the same accounting in Valkey for
 * replicas acting as one (decides when the backend answers; nothing waits meanwhile).
 */
public interface Limiter {

    /**
     * Checks {@code client}'s limits for one more request and, when allowed, counts it and pre-pays its tokens.
     * The future never fails: a limiter that cannot reach its state decides some other way, and says so.
     */
    CompletableFuture<RateLimiter.Decision> check(String client, RateLimits limits);

    /**
     * Replaces what a request pre-paid ({@code reserved}) by the tokens its upstream reported ({@code tokens},
     * prompt plus completion); {@code measured} false when it never reached a host. Never blocks.
     */
    void settle(String client, RateLimits limits, long reserved, long tokens, boolean measured);
}
