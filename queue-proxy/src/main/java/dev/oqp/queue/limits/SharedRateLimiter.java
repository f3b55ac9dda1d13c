package dev.oqp.queue.limits;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;

import dev.oqp.common.config.RateLimits;
import io.lettuce.core.api.async.RedisAsyncCommands;

/**
 * The rate limits of {@link RateLimiter}, kept in Valkey so that replicas together admit what one process would:
 * one hash per client ({@code {<prefix>}rl:<client>}) updated by one atomic script ({@code rate_limit.lua}) on
 * the server's clock, with the same buckets, the same pre-pay-then-settle token accounting (the average tokens
 * per request is shared too) and the same headers. The limits are passed by each request from its replica's
 * configuration, never stored as authority.
 *
 * <p>While the backend cannot be reached (an error, or no answer within {@code coordination.timeout}), each
 * replica decides in its own memory on its share of every limit: the limit divided by the last known number of
 * live replicas, at least 1. That is announced ({@link Outage}: a log line per change, every such decision
 * counted), never silent, and the backend is tried again at most once a second. A settle follows the same path
 * as its request would now; one that crosses an outage's edge is off by at most its estimate.
 */
public final class SharedRateLimiter implements Limiter {
    /** Long enough for the deepest token debt (an hour) and for a day's quota. */
    private static final long KEY_TTL_SECONDS = Duration.ofHours(25).toSeconds();
    private static final LuaScript SCRIPT = new LuaScript("rate_limit.lua");

    private final RedisAsyncCommands<String, String> commands;
    private final String keyPrefix;
    private final IntSupplier replicas;
    private final long timeoutMillis;
    private final RateLimiter local;
    private final Outage outage;

    /**
     * @param keyPrefix {@code coordination.key_prefix}: keys are {@code {<keyPrefix>}rl:<client>}
     * @param replicas  the last known number of live replicas (at least 1 is assumed)
     * @param timeout   {@code coordination.timeout}
     * @param degraded  counts one decision taken without the backend
     */
    public SharedRateLimiter(RedisAsyncCommands<String, String> commands, String keyPrefix, IntSupplier replicas,
                             Duration timeout, Runnable degraded) {
        this.commands = commands;
        this.keyPrefix = keyPrefix;
        this.replicas = replicas;
        this.timeoutMillis = timeout.toMillis();
        this.local = new RateLimiter(System::nanoTime, Clock.systemUTC());
        this.outage = new Outage("rate_limit", "each replica limits its clients to its share of every limit", degraded);
    }

    private String key(String client) {
        return "{" + keyPrefix + "}rl:" + client;
    }

    @Override
    public CompletableFuture<RateLimiter.Decision> check(String client, RateLimits limits) {
        if (!limits.any()) {
            return CompletableFuture.completedFuture(new RateLimiter.Decision(true, null, 0, Map.of(), 0));
        }
        if (outage.skipBackend()) {
            return CompletableFuture.completedFuture(degraded(client, limits));
        }
        return run(client, limits, "admit", Long.toString(RateLimiter.FIRST_ESTIMATE)).handle((answer, failure) -> {
            if (failure != null) {
                outage.failed(failure);
                return degraded(client, limits);
            }
            outage.answered();
            return decision(limits, answer);
        });
    }

    @Override
    public void settle(String client, RateLimits limits, long reserved, long tokens, boolean measured) {
        if (limits.tokensPerMinute() == 0 && limits.tokensPerDay() == 0 || reserved <= 0 && tokens <= 0) {
            return;
        }
        if (outage.skipBackend()) {
            local.settle(client, share(limits), reserved, tokens, measured);
            return;
        }
        run(client, limits, "settle", Long.toString(Math.max(0, tokens) - reserved), measured ? "1" : "0",
                Long.toString(tokens)).whenComplete((answer, failure) -> {
                    if (failure != null) {
                        outage.failed(failure);
                        local.settle(client, share(limits), reserved, tokens, measured);
                    } else {
                        outage.answered();
                    }
                });
    }

    private CompletableFuture<List<Object>> run(String client, RateLimits limits, String mode, String... more) {
        String[] args = new String[5 + more.length];
        args[0] = mode;
        args[1] = Integer.toString(limits.requestsPerMinute());
        args[2] = Long.toString(limits.tokensPerMinute());
        args[3] = Long.toString(limits.tokensPerDay());
        args[4] = Long.toString(KEY_TTL_SECONDS);
        System.arraycopy(more, 0, args, 5, more.length);
        try {
            return SCRIPT.run(commands, new String[] {key(client)}, args).orTimeout(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (RuntimeException e) {
            // Lettuce refuses at once while disconnected: the same as a failed answer.
            return CompletableFuture.failedFuture(e);
        }
    }

    /** The script's answer as the in-memory limiter would have given it. */
    private static RateLimiter.Decision decision(RateLimits limits, List<Object> answer) {
        boolean allowed = number(answer.get(0)) == 1;
        double requests = Double.parseDouble(answer.get(1).toString());
        double tokens = Double.parseDouble(answer.get(2).toString());
        long dayTokens = (long) number(answer.get(3));
        long reserved = (long) number(answer.get(4));
        long untilTomorrow = (long) number(answer.get(5));
        RateLimiter.Refusal refusal = allowed ? null
                : RateLimiter.refusal(limits, requests, tokens, dayTokens, untilTomorrow);
        if (!allowed && refusal == null) {
            // Cannot happen with the same rules on both sides; refuse conservatively rather than admit.
            refusal = new RateLimiter.Refusal("requests_per_minute", 1);
        }
        return new RateLimiter.Decision(allowed, allowed ? null : refusal.limit(),
                allowed ? 0 : refusal.retryAfterSeconds(), RateLimiter.headers(limits, requests, tokens, dayTokens),
                reserved);
    }

    private static double number(Object value) {
        return value instanceof Number n ? n.doubleValue() : Double.parseDouble(value.toString());
    }

    /** Decided in memory on this replica's share; counted. */
    private RateLimiter.Decision degraded(String client, RateLimits limits) {
        outage.degradedDecision();
        return local.admit(client, share(limits));
    }

    /** Each limit divided by the last known number of live replicas, at least 1 (0, no limit, stays 0). */
    RateLimits share(RateLimits limits) {
        int n = Math.max(1, replicas.getAsInt());
        return new RateLimits(limits.requestsPerMinute() == 0 ? 0 : Math.max(1, limits.requestsPerMinute() / n),
                limits.tokensPerMinute() == 0 ? 0 : Math.max(1, limits.tokensPerMinute() / n),
                limits.tokensPerDay() == 0 ? 0 : Math.max(1, limits.tokensPerDay() / n));
    }
}
