package dev.oqp.queue.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import dev.oqp.common.config.RateLimitConfig;
import org.junit.jupiter.api.Test;

class FailureLimiterTest {

    private static final long SECOND = 1_000_000_000L;
    private static final long T0 = 123_456_789L * SECOND;
    private static final RateLimitConfig THREE_PER_MINUTE = new RateLimitConfig(3, Duration.ofSeconds(60));

    @Test
    void addressIsBlockedOnceMaxFailuresFallWithinTheWindow() {
        FailureLimiter limiter = new FailureLimiter(THREE_PER_MINUTE);
        limiter.recordFailure("192.0.2.1", T0);
        limiter.recordFailure("192.0.2.1", T0 + 10 * SECOND);
        assertThat(limiter.blocked("192.0.2.1", T0 + 10 * SECOND)).isFalse();
        limiter.recordFailure("192.0.2.1", T0 + 20 * SECOND);
        assertThat(limiter.blocked("192.0.2.1", T0 + 20 * SECOND)).isTrue();
        assertThat(limiter.blocked("192.0.2.2", T0 + 20 * SECOND)).isFalse();
    }

    @Test
    void failuresSpreadBeyondTheWindowDoNotBlock() {
        FailureLimiter limiter = new FailureLimiter(THREE_PER_MINUTE);
        limiter.recordFailure("192.0.2.1", T0);
        limiter.recordFailure("192.0.2.1", T0 + 30 * SECOND);
        limiter.recordFailure("192.0.2.1", T0 + 61 * SECOND);
        assertThat(limiter.blocked("192.0.2.1", T0 + 61 * SECOND)).isFalse();
    }

    @Test
    void blockLiftsWhenTheWindowEnds() {
        FailureLimiter limiter = new FailureLimiter(THREE_PER_MINUTE);
        for (int i = 0; i < 3; i++) {
            limiter.recordFailure("192.0.2.1", T0 + i * SECOND);
        }
        assertThat(limiter.blocked("192.0.2.1", T0 + 60 * SECOND - 1)).isTrue();
        assertThat(limiter.blocked("192.0.2.1", T0 + 60 * SECOND)).isFalse();
        limiter.recordFailure("192.0.2.1", T0 + 61 * SECOND);
        assertThat(limiter.blocked("192.0.2.1", T0 + 61 * SECOND)).isFalse();
    }

    @Test
    void retryAfterIsTheRestOfTheWindowRoundedUpAndAtLeastOneSecond() {
        FailureLimiter limiter = new FailureLimiter(THREE_PER_MINUTE);
        assertThat(limiter.retryAfterSeconds("192.0.2.1", T0)).isEqualTo(1);
        for (int i = 0; i < 3; i++) {
            limiter.recordFailure("192.0.2.1", T0);
        }
        assertThat(limiter.retryAfterSeconds("192.0.2.1", T0)).isEqualTo(60);
        assertThat(limiter.retryAfterSeconds("192.0.2.1", T0 + 15 * SECOND + 1)).isEqualTo(45);
        assertThat(limiter.retryAfterSeconds("192.0.2.1", T0 + 60 * SECOND - 1)).isEqualTo(1);
        assertThat(limiter.retryAfterSeconds("192.0.2.1", T0 + 60 * SECOND)).isEqualTo(1);
    }

    @Test
    void timeIsComparedByDifferenceSoNanoTimeMayBeNegative() {
        FailureLimiter limiter = new FailureLimiter(THREE_PER_MINUTE);
        long start = Long.MAX_VALUE - 10 * SECOND;
        for (int i = 0; i < 3; i++) {
            limiter.recordFailure("192.0.2.1", start);
        }
        assertThat(limiter.blocked("192.0.2.1", start + 20 * SECOND)).isTrue();
        assertThat(limiter.blocked("192.0.2.1", start + 60 * SECOND)).isFalse();
    }

    @Test
    void floodOfDistinctAddressesStaysWithinTheBound() {
        FailureLimiter limiter = new FailureLimiter(THREE_PER_MINUTE, 100);
        for (int i = 0; i < 100_000; i++) {
            limiter.recordFailure("2001:db8::" + Integer.toHexString(i), T0 + i);
            assertThat(limiter.trackedAddresses()).isLessThanOrEqualTo(100);
        }
    }

    @Test
    void floodOfDistinctAddressesCannotEvictABlockedAttacker() {
        FailureLimiter limiter = new FailureLimiter(THREE_PER_MINUTE, 100);
        for (int i = 0; i < 3; i++) {
            limiter.recordFailure("198.51.100.7", T0);
        }
        for (int i = 0; i < 10_000; i++) {
            limiter.recordFailure("2001:db8::" + Integer.toHexString(i), T0 + SECOND);
        }
        assertThat(limiter.blocked("198.51.100.7", T0 + 2 * SECOND)).isTrue();
        assertThat(limiter.retryAfterSeconds("198.51.100.7", T0 + 2 * SECOND)).isEqualTo(58);
    }

    @Test
    void addressNearItsLimitOutlivesAFloodOfSingleFailures() {
        FailureLimiter limiter = new FailureLimiter(THREE_PER_MINUTE, 100);
        limiter.recordFailure("198.51.100.7", T0);
        limiter.recordFailure("198.51.100.7", T0);
        for (int i = 0; i < 10_000; i++) {
            limiter.recordFailure("2001:db8::" + Integer.toHexString(i), T0 + SECOND);
        }
        limiter.recordFailure("198.51.100.7", T0 + 2 * SECOND);
        assertThat(limiter.blocked("198.51.100.7", T0 + 2 * SECOND)).isTrue();
    }

    @Test
    void endedWindowsAreDroppedBeforeAnyLiveOne() {
        FailureLimiter limiter = new FailureLimiter(THREE_PER_MINUTE, 10);
        limiter.recordFailure("198.51.100.7", T0 + 30 * SECOND);
        limiter.recordFailure("198.51.100.7", T0 + 30 * SECOND);
        for (int i = 0; i < 9; i++) {
            limiter.recordFailure("192.0.2." + i, T0);
        }
        limiter.recordFailure("203.0.113.1", T0 + 70 * SECOND);
        assertThat(limiter.trackedAddresses()).isEqualTo(2);
        limiter.recordFailure("198.51.100.7", T0 + 70 * SECOND);
        assertThat(limiter.blocked("198.51.100.7", T0 + 70 * SECOND)).isTrue();
    }

    @Test
    void whenEveryTrackedAddressIsBlockedNewAddressesAreNotTracked() {
        FailureLimiter limiter = new FailureLimiter(THREE_PER_MINUTE, 2);
        for (String ip : List.of("192.0.2.1", "192.0.2.2")) {
            for (int i = 0; i < 3; i++) {
                limiter.recordFailure(ip, T0);
            }
        }
        limiter.recordFailure("192.0.2.3", T0);
        assertThat(limiter.trackedAddresses()).isEqualTo(2);
        assertThat(limiter.blocked("192.0.2.1", T0)).isTrue();
        assertThat(limiter.blocked("192.0.2.2", T0)).isTrue();
        assertThat(limiter.blocked("192.0.2.3", T0)).isFalse();
    }

    @Test
    void newAddressesAreTrackedAgainOnceABlockedWindowEnds() {
        FailureLimiter limiter = new FailureLimiter(THREE_PER_MINUTE, 2);
        for (int i = 0; i < 3; i++) {
            limiter.recordFailure("192.0.2.1", T0);
            limiter.recordFailure("192.0.2.2", T0 + 10 * SECOND);
        }
        limiter.recordFailure("192.0.2.3", T0 + 20 * SECOND);
        limiter.recordFailure("192.0.2.4", T0 + 59 * SECOND);
        assertThat(limiter.trackedAddresses()).isEqualTo(2);
        assertThat(limiter.blocked("192.0.2.4", T0 + 59 * SECOND)).isFalse();
        for (int i = 0; i < 3; i++) {
            limiter.recordFailure("192.0.2.4", T0 + 60 * SECOND);
        }
        assertThat(limiter.blocked("192.0.2.4", T0 + 60 * SECOND)).isTrue();
        assertThat(limiter.blocked("192.0.2.2", T0 + 60 * SECOND)).isTrue();
        assertThat(limiter.blocked("192.0.2.1", T0 + 60 * SECOND)).isFalse();
    }

    @Test
    void capacityMustBePositive() {
        assertThatThrownBy(() -> new FailureLimiter(THREE_PER_MINUTE, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxTrackedAddresses: 0 (expected: >= 1)");
    }

    @Test
    void concurrentFailuresAreAllCountedAndTheBoundHolds() throws Exception {
        FailureLimiter limiter = new FailureLimiter(new RateLimitConfig(1_000, Duration.ofSeconds(60)), 64);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        CountDownLatch start = new CountDownLatch(1);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int thread = t;
                futures.add(pool.submit(() -> {
                    start.await();
                    for (int i = 0; i < 5_000; i++) {
                        limiter.recordFailure("198.51.100.7", T0);
                        limiter.recordFailure("2001:db8::" + thread + ":" + Integer.toHexString(i), T0);
                        limiter.blocked("198.51.100.7", T0);
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> future : futures) {
                future.get(30, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(limiter.blocked("198.51.100.7", T0)).isTrue();
        assertThat(limiter.trackedAddresses()).isLessThanOrEqualTo(64);
    }
}
