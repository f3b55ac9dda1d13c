package dev.oqp.queue.limits;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import dev.oqp.common.config.RateLimits;
import org.junit.jupiter.api.Test;

/** Buckets refilled over a minute, pre-paid and settled tokens, a daily quota: on injected clocks. */
class RateLimiterTest {
    private final AtomicLong nanos = new AtomicLong(1_000);
    private Instant wall = Instant.parse("2026-12-04T23:59:00Z");
    private final RateLimiter limiter = new RateLimiter(nanos::get, new Clock() {
        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
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

    /** Admits one request of {@code client} and settles it at {@code tokens}. */
    private RateLimiter.Decision run(String client, RateLimits limits, long tokens) {
        RateLimiter.Decision d = limiter.admit(client, limits);
        if (d.allowed()) {
            limiter.settle(client, limits, d.reserved(), tokens, true);
        }
        return d;
    }

    @Test
    void tokensPerMinuteArePrePaidThenSettledAtWhatTheUpstreamReported() {
        RateLimits limits = new RateLimits(0, 600, 0);
        RateLimiter.Decision first = limiter.admit("a", limits);
        assertThat(first.allowed()).isTrue();
        assertThat(first.reserved()).as("no average yet").isEqualTo(RateLimiter.FIRST_ESTIMATE);
        limiter.settle("a", limits, first.reserved(), 500, true);
        assertThat(run("a", limits, 100).allowed()).as("100 tokens left: admitted").isTrue();
        RateLimiter.Decision refused = limiter.admit("a", limits);
        assertThat(refused.allowed()).isFalse();
        assertThat(refused.limit()).isEqualTo("tokens_per_minute");
        assertThat(refused.retryAfterSeconds()).as("none left, then one more, at 10 tokens/s").isEqualTo(1);
        advance(1);
        assertThat(limiter.admit("a", limits).allowed()).isTrue();
    }

    @Test
    void aBurstOfParallelRequestsIsHeldToWhatTheBucketCovers() {
        RateLimits limits = new RateLimits(0, 1000, 0);
        run("a", limits, 400);
        run("a", limits, 400);
        advance(60);
        int admitted = 0;
        for (int i = 0; i < 20; i++) {
            if (limiter.admit("a", limits).allowed()) {
                admitted++;
            }
        }
        assertThat(admitted).as("about 400 tokens each pre-paid from 1000").isEqualTo(3);
    }

    @Test
    void aRequestThatNeverReachedAHostIsRefunded() {
        RateLimits limits = new RateLimits(0, 300, 300);
        RateLimiter.Decision d = limiter.admit("a", limits);
        limiter.settle("a", limits, d.reserved(), 0, false);
        RateLimiter.Decision next = limiter.admit("a", limits);
        String left = Long.toString(300 - RateLimiter.FIRST_ESTIMATE);
        assertThat(next.headers()).as("all back, less this request's own estimate")
                .containsEntry("X-RateLimit-Remaining-Tokens", left).containsEntry("X-RateLimit-Remaining-Tokens-Day", left);
        assertThat(next.reserved()).as("the average is left alone").isEqualTo(RateLimiter.FIRST_ESTIMATE);
    }

    @Test
    void theLongestWaitIsTheOneAnswered() {
        RateLimits limits = new RateLimits(0, 1000, 1000);
        run("a", limits, 1500);
        RateLimiter.Decision refused = limiter.admit("a", limits);
        assertThat(refused.allowed()).isFalse();
        assertThat(refused.limit()).as("the day quota outlasts the minute bucket").isEqualTo("tokens_per_day");
    }

    @Test
    void debtIsCappedAndALimitTurnedOnStartsFull() {
        RateLimits minute = new RateLimits(0, 10, 0);
        run("a", minute, 1_000_000);
        assertThat(limiter.admit("a", minute).retryAfterSeconds()).as("at most an hour's refill owed")
                .isBetween(3600L, 3607L);
        RateLimits dayOnly = new RateLimits(0, 0, 1_000_000);
        run("b", dayOnly, 10_000);
        RateLimits both = new RateLimits(5, 1000, 1_000_000);
        RateLimiter.Decision afterReload = limiter.admit("b", both);
        assertThat(afterReload.allowed()).as("no hidden debt in a bucket that was off").isTrue();
        assertThat(afterReload.headers()).containsEntry("X-RateLimit-Remaining-Requests", "4");
    }

    @Test
    void tokensPerDayWaitForTheNextUtcDay() {
        RateLimits limits = new RateLimits(0, 0, 100);
        run("a", limits, 100);
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
