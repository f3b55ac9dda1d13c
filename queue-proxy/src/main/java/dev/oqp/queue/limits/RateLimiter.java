package dev.oqp.queue.limits;

import java.time.Clock;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

import dev.oqp.common.config.RateLimits;

/**
 * The rate limits of each client, checked when an inference request arrives (before its body is read):
 *
 * <ul>
 *   <li>{@code requests_per_minute}: a bucket of that many requests, refilled evenly over a minute; a request
 *       takes one.</li>
 *   <li>{@code tokens_per_minute}: a bucket of that many tokens refilled the same way. Tokens cannot be known
 *       before the answer, so an admitted request pre-pays an estimate (the client's recent average tokens
 *       per request, {@value #FIRST_ESTIMATE} before it has one) and {@link #settle} replaces the estimate with
 *       what its upstream reported when it completes. A request is admitted while the bucket is above zero;
 *       the bucket may go below zero (at most an hour's refill): the next requests wait until it refills.
 *       Pre-paying is what stops a burst of parallel requests from all being admitted on one full bucket.</li>
 *   <li>{@code tokens_per_day}: a quota per UTC day, pre-paid and settled the same way; once used up,
 *       requests wait for the next UTC day.</li>
 * </ul>
 *
 * A refusal names the limit with the longest wait and when to retry (whole seconds, at least 1). A bucket
 * whose limit a reload turns on starts full. Thread-safe; state per client id (so bounded by the configuration).
 *
 * <p>The in-memory {@link Limiter}: {@link #check} decides at once. {@link SharedRateLimiter} runs the same
 * accounting in Valkey and uses one of these, on each replica's share of the limits, while it cannot.
 */
public final class RateLimiter implements Limiter {
    private static final double MINUTE_NANOS = 60e9;
    /** Tokens pre-paid by a client's requests before one of them completed. */
    static final long FIRST_ESTIMATE = 256;
    /** The deepest a minute bucket may go below zero, in minutes of refill. */
    private static final double MAX_DEBT_MINUTES = 60;

    private final LongSupplier nanoClock;
    private final Clock wallClock;
    private final Map<String, State> states = new ConcurrentHashMap<>();

    public RateLimiter(LongSupplier nanoClock, Clock wallClock) {
        this.nanoClock = nanoClock;
        this.wallClock = wallClock;
    }

    /**
     * What {@link #admit} decided, with the {@code X-RateLimit-*} headers to send either way, and the tokens the
     * request pre-paid (to pass to {@link #settle} when it ends, whatever happens to it).
     */
    public record Decision(boolean allowed, String limit, long retryAfterSeconds, Map<String, String> headers,
                           long reserved) {
    }

    private static final class State {
        double requests;
        double tokens;
        long lastNanos;
        LocalDate day;
        long dayTokens;
        boolean started;
        /** The limits seen last: a bucket whose limit was 0 starts full when a reload turns it on. */
        RateLimits limits;
        /** Tokens per completed request, averaged (exponentially); 0 before the first. */
        double average;
    }

    /** {@link #admit}, already done. */
    @Override
    public CompletableFuture<Decision> check(String client, RateLimits limits) {
        return CompletableFuture.completedFuture(admit(client, limits));
    }

    /** Checks {@code client}'s limits for one more request and, when allowed, counts it and pre-pays its tokens. */
    public Decision admit(String client, RateLimits limits) {
        if (!limits.any()) {
            return new Decision(true, null, 0, Map.of(), 0);
        }
        State s = states.computeIfAbsent(client, c -> new State());
        LocalDate today = LocalDate.now(wallClock.withZone(ZoneOffset.UTC));
        synchronized (s) {
            refill(s, limits, today);
            long untilTomorrow = limits.tokensPerDay() > 0 ? Duration.between(wallClock.instant(),
                    today.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant()).toSeconds() : 0;
            Refusal refusal = refusal(limits, s.requests, s.tokens, s.dayTokens, untilTomorrow);
            String refused = refusal == null ? null : refusal.limit();
            long retry = refusal == null ? 0 : refusal.retryAfterSeconds();
            long reserved = 0;
            if (refused == null) {
                if (limits.requestsPerMinute() > 0) {
                    s.requests -= 1;
                }
                if (limits.tokensPerMinute() > 0 || limits.tokensPerDay() > 0) {
                    reserved = s.average > 0 ? Math.max(1, Math.round(s.average)) : FIRST_ESTIMATE;
                    take(s, limits, reserved);
                }
            }
            return new Decision(refused == null, refused, retry, headers(limits, s.requests, s.tokens, s.dayTokens),
                    reserved);
        }
    }

    /**
     * Replaces what a request of {@code client} pre-paid ({@code reserved}) by the tokens its upstream reported
     * ({@code tokens}, prompt plus completion); {@code measured} false when it never reached a host (refused,
     * answered from the cache, left while queued): its estimate is refunded and the average left alone.
     */
    @Override
    public void settle(String client, RateLimits limits, long reserved, long tokens, boolean measured) {
        if (limits.tokensPerMinute() == 0 && limits.tokensPerDay() == 0 || reserved <= 0 && tokens <= 0) {
            return;
        }
        State s = states.computeIfAbsent(client, c -> new State());
        LocalDate today = LocalDate.now(wallClock.withZone(ZoneOffset.UTC));
        synchronized (s) {
            refill(s, limits, today);
            take(s, limits, Math.max(0, tokens) - reserved);
            if (measured) {
                s.average = s.average == 0 ? Math.max(1, tokens) : 0.8 * s.average + 0.2 * Math.max(0, tokens);
            }
        }
    }

    private static void take(State s, RateLimits limits, long tokens) {
        if (limits.tokensPerMinute() > 0) {
            s.tokens = Math.max(-MAX_DEBT_MINUTES * limits.tokensPerMinute(), s.tokens - tokens);
        }
        s.dayTokens = Math.max(0, s.dayTokens + tokens);
    }

    private void refill(State s, RateLimits limits, LocalDate today) {
        long now = nanoClock.getAsLong();
        if (!s.started) {
            s.started = true;
            s.requests = limits.requestsPerMinute();
            s.tokens = limits.tokensPerMinute();
            s.lastNanos = now;
            s.day = today;
            s.limits = limits;
            return;
        }
        if (!limits.equals(s.limits)) {
            // A limit a reload turned on starts full; a lowered one caps what is left (below).
            if (s.limits.requestsPerMinute() == 0) {
                s.requests = limits.requestsPerMinute();
            }
            if (s.limits.tokensPerMinute() == 0) {
                s.tokens = limits.tokensPerMinute();
            }
            s.limits = limits;
        }
        double elapsed = now - s.lastNanos;
        s.lastNanos = now;
        s.requests = Math.min(limits.requestsPerMinute(), s.requests + elapsed * limits.requestsPerMinute() / MINUTE_NANOS);
        s.tokens = Math.min(limits.tokensPerMinute(), s.tokens + elapsed * limits.tokensPerMinute() / MINUTE_NANOS);
        if (!today.equals(s.day)) {
            s.day = today;
            s.dayTokens = 0;
        }
    }

    /** Which limit refuses one more request, with the longest wait, or null when none does. */
    record Refusal(String limit, long retryAfterSeconds) {
    }

    /**
     * The refusal for a client whose buckets hold {@code requests} and {@code tokens} (refilled up to now) and who
     * used {@code dayTokens} today, {@code untilTomorrow} seconds before the next UTC day; null when admitted.
     */
    static Refusal refusal(RateLimits limits, double requests, double tokens, long dayTokens, long untilTomorrow) {
        String refused = null;
        long retry = 0;
        if (limits.requestsPerMinute() > 0 && requests < 1) {
            refused = "requests_per_minute";
            retry = seconds((1 - requests) * MINUTE_NANOS / limits.requestsPerMinute());
        }
        if (limits.tokensPerMinute() > 0 && tokens <= 0) {
            long wait = seconds((1 - tokens) * MINUTE_NANOS / limits.tokensPerMinute());
            if (wait > retry) {
                refused = "tokens_per_minute";
                retry = wait;
            }
        }
        if (limits.tokensPerDay() > 0 && dayTokens >= limits.tokensPerDay()) {
            long wait = Math.max(1, untilTomorrow + 1);
            if (wait > retry) {
                refused = "tokens_per_day";
                retry = wait;
            }
        }
        return refused == null ? null : new Refusal(refused, retry);
    }

    /** The {@code X-RateLimit-*} headers for buckets holding {@code requests} and {@code tokens}. */
    static Map<String, String> headers(RateLimits limits, double requests, double tokens, long dayTokens) {
        Map<String, String> h = new LinkedHashMap<>();
        if (limits.requestsPerMinute() > 0) {
            h.put("X-RateLimit-Limit-Requests", Integer.toString(limits.requestsPerMinute()));
            h.put("X-RateLimit-Remaining-Requests", Long.toString(Math.max(0, (long) Math.floor(requests))));
            h.put("X-RateLimit-Reset-Requests", seconds((limits.requestsPerMinute() - requests) * MINUTE_NANOS
                    / limits.requestsPerMinute()) + "s");
        }
        if (limits.tokensPerMinute() > 0) {
            h.put("X-RateLimit-Limit-Tokens", Long.toString(limits.tokensPerMinute()));
            h.put("X-RateLimit-Remaining-Tokens", Long.toString(Math.max(0, (long) Math.floor(tokens))));
            h.put("X-RateLimit-Reset-Tokens", seconds((limits.tokensPerMinute() - tokens) * MINUTE_NANOS
                    / limits.tokensPerMinute()) + "s");
        }
        if (limits.tokensPerDay() > 0) {
            h.put("X-RateLimit-Limit-Tokens-Day", Long.toString(limits.tokensPerDay()));
            h.put("X-RateLimit-Remaining-Tokens-Day", Long.toString(Math.max(0, limits.tokensPerDay() - dayTokens)));
        }
        return h;
    }

    /** Whole seconds, rounded up, at least 1 when anything is due. */
    private static long seconds(double nanos) {
        return nanos <= 0 ? 0 : Math.max(1, (long) Math.ceil(nanos / 1e9));
    }
}
