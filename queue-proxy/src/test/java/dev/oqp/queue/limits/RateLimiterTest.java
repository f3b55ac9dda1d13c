package dev.oqp.queue.limits;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import dev.oqp.common.config.RateLimits;
import org.junit.jupiter.api.Test;

/** Buckets refilled over a minute, post-paid tokens, a daily quota: on injected clocks. */
class RateLimiterTest {
    private final AtomicLong nanos = new AtomicLong(1_000);
    private Instant wall = Instant.parse("2026-12-04T23:59:00Z");
    private final RateLimiter limiter = new RateLimiter(nanos::get, new Clock() {
        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return wall;
        }
    });

    private void advance(long seconds) {
        nanos.addAndGet(TimeUnit.SECONDS.toNanos(seconds));
        wall = wall.plusSeconds(seconds);
    }

    @Test
    void requestsPerMinuteIsABucketRefilledOverAMinute() {
        RateLimits limits = new RateLimits(2, 0, 0);
        assertThat(limiter.admit("a", limits).allowed()).isTrue();
        RateLimiter.Decision second = limiter.admit("a", limits);
        assertThat(second.allowed()).isTrue();
        assertThat(second.headers()).containsEntry("X-RateLimit-Limit-Requests", "2")
                .containsEntry("X-RateLimit-Remaining-Requests", "0");
        RateLimiter.Decision third = limiter.admit("a", limits);
        assertThat(third.allowed()).isFalse();
        assertThat(third.limit()).isEqualTo("requests_per_minute");
        assertThat(third.retryAfterSeconds()).as("one request comes back every 30 s").isEqualTo(30);
        assertThat(limiter.admit("b", limits).allowed()).as("another client has its own bucket").isTrue();
        advance(29);
        assertThat(limiter.admit("a", limits).allowed()).isFalse();
        advance(1);
        assertThat(limiter.admit("a", limits).allowed()).isTrue();
    }

    @Test
    void tokensPerMinuteArePaidAfterTheAnswer() {
        RateLimits limits = new RateLimits(0, 60, 0);
        assertThat(limiter.admit("a", limits).allowed()).isTrue();
        limiter.consumed("a", limits, 50);
        assertThat(limiter.admit("a", limits).allowed()).as("10 tokens left: admitted").isTrue();
        limiter.consumed("a", limits, 40);
        RateLimiter.Decision refused = limiter.admit("a", limits);
        assertThat(refused.allowed()).isFalse();
        assertThat(refused.limit()).isEqualTo("tokens_per_minute");
        assertThat(refused.retryAfterSeconds()).as("30 tokens owed, then one more, at 1 token/s").isEqualTo(31);
        advance(31);
        assertThat(limiter.admit("a", limits).allowed()).isTrue();
    }

    @Test
    void tokensPerDayWaitForTheNextUtcDay() {
        RateLimits limits = new RateLimits(0, 0, 100);
        limiter.admit("a", limits);
        limiter.consumed("a", limits, 100);
        RateLimiter.Decision refused = limiter.admit("a", limits);
        assertThat(refused.allowed()).isFalse();
        assertThat(refused.limit()).isEqualTo("tokens_per_day");
        assertThat(refused.retryAfterSeconds()).isBetween(60L, 61L);
        assertThat(refused.headers()).containsEntry("X-RateLimit-Remaining-Tokens-Day", "0");
        advance(61);
        assertThat(limiter.admit("a", limits).allowed()).as("a new UTC day").isTrue();
    }

    @Test
    void noLimitsNoHeaders() {
        RateLimiter.Decision d = limiter.admit("a", RateLimits.NONE);
        assertThat(d.allowed()).isTrue();
        assertThat(d.headers()).isEmpty();
    }
}
