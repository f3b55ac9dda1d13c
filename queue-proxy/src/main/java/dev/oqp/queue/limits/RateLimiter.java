package dev.oqp.queue.limits;

import java.time.Clock;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

import dev.oqp.common.config.RateLimits;

/**
 * The rate limits of each client, checked when an inference request arrives (before its body is read):
 *
 * <ul>
 *   <li>{@code requests_per_minute}: a bucket of that many requests, refilled evenly over a minute; a request
 *       takes one.</li>
 *   <li>{@code tokens_per_minute}: a bucket of that many tokens refilled the same way; a request is admitted
 *       while the bucket is above zero, and the prompt and completion tokens its upstream reported are taken
 *       when it completes (the bucket may go below zero: the next requests wait until it refills). Tokens
 *       cannot be known before the answer, so this is how a token budget can be enforced at all.</li>
 *   <li>{@code tokens_per_day}: a quota per UTC day, taken the same way; once used up, requests wait for the
 *       next UTC day.</li>
 * </ul>
 *
 * A refusal names the limit and when to retry (whole seconds, at least 1). Thread-safe; state per client id.
 */
public final class RateLimiter {
    private static final double MINUTE_NANOS = 60e9;

    private final LongSupplier nanoClock;
    private final Clock wallClock;
    private final Map<String, State> states = new ConcurrentHashMap<>();

    public RateLimiter(LongSupplier nanoClock, Clock wallClock) {
        this.nanoClock = nanoClock;
        this.wallClock = wallClock;
    }

    /** What {@link #admit} decided, with the {@code X-RateLimit-*} headers to send either way. */
    public record Decision(boolean allowed, String limit, long retryAfterSeconds, Map<String, String> headers) {
    }

    private static final class State {
        double requests;
        double tokens;
        long lastNanos;
        LocalDate day;
        long dayTokens;
        boolean started;
    }

    /** Checks {@code client}'s limits for one more request and, when allowed, counts it. */
    public Decision admit(String client, RateLimits limits) {
        if (!limits.any()) {
            return new Decision(true, null, 0, Map.of());
        }
        State s = states.computeIfAbsent(client, c -> new State());
        LocalDate today = LocalDate.now(wallClock.withZone(ZoneOffset.UTC));
        synchronized (s) {
            refill(s, limits, today);
            String refused = null;
            long retry = 0;
            if (limits.requestsPerMinute() > 0 && s.requests < 1) {
                refused = "requests_per_minute";
                retry = seconds((1 - s.requests) * MINUTE_NANOS / limits.requestsPerMinute());
            } else if (limits.tokensPerMinute() > 0 && s.tokens <= 0) {
                refused = "tokens_per_minute";
                retry = seconds((1 - s.tokens) * MINUTE_NANOS / limits.tokensPerMinute());
            } else if (limits.tokensPerDay() > 0 && s.dayTokens >= limits.tokensPerDay()) {
                refused = "tokens_per_day";
                retry = Math.max(1, java.time.Duration.between(wallClock.instant(),
                        today.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant()).toSeconds() + 1);
            }
            if (refused == null && limits.requestsPerMinute() > 0) {
                s.requests -= 1;
            }
            return new Decision(refused == null, refused, retry, headers(s, limits, today));
        }
    }

    /** Takes the tokens the upstream reported for a request of {@code client} (prompt plus completion). */
    public void consumed(String client, RateLimits limits, long tokens) {
        if (tokens <= 0 || limits.tokensPerMinute() == 0 && limits.tokensPerDay() == 0) {
            return;
        }
        State s = states.computeIfAbsent(client, c -> new State());
        LocalDate today = LocalDate.now(wallClock.withZone(ZoneOffset.UTC));
        synchronized (s) {
            refill(s, limits, today);
            s.tokens -= tokens;
            s.dayTokens += tokens;
        }
    }

    private void refill(State s, RateLimits limits, LocalDate today) {
        long now = nanoClock.getAsLong();
        if (!s.started) {
            s.started = true;
            s.requests = limits.requestsPerMinute();
            s.tokens = limits.tokensPerMinute();
            s.lastNanos = now;
            s.day = today;
            return;
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

    private static Map<String, String> headers(State s, RateLimits limits, LocalDate today) {
        Map<String, String> h = new LinkedHashMap<>();
        if (limits.requestsPerMinute() > 0) {
            h.put("X-RateLimit-Limit-Requests", Integer.toString(limits.requestsPerMinute()));
            h.put("X-RateLimit-Remaining-Requests", Long.toString(Math.max(0, (long) Math.floor(s.requests))));
            h.put("X-RateLimit-Reset-Requests", seconds((limits.requestsPerMinute() - s.requests) * MINUTE_NANOS
                    / limits.requestsPerMinute()) + "s");
        }
        if (limits.tokensPerMinute() > 0) {
            h.put("X-RateLimit-Limit-Tokens", Long.toString(limits.tokensPerMinute()));
            h.put("X-RateLimit-Remaining-Tokens", Long.toString(Math.max(0, (long) Math.floor(s.tokens))));
            h.put("X-RateLimit-Reset-Tokens", seconds((limits.tokensPerMinute() - s.tokens) * MINUTE_NANOS
                    / limits.tokensPerMinute()) + "s");
        }
        if (limits.tokensPerDay() > 0) {
            h.put("X-RateLimit-Limit-Tokens-Day", Long.toString(limits.tokensPerDay()));
            h.put("X-RateLimit-Remaining-Tokens-Day", Long.toString(Math.max(0, limits.tokensPerDay() - s.dayTokens)));
        }
        return h;
    }

    /** Whole seconds, rounded up, at least 1 when anything is due. */
    private static long seconds(double nanos) {
        return nanos <= 0 ? 0 : Math.max(1, (long) Math.ceil(nanos / 1e9));
    }
}
