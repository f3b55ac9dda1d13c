package dev.oqp.queue.limits;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import dev.oqp.common.config.RateLimits;
import dev.oqp.queue.cache.RedisFixture;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The rate limit script against a real Valkey or Redis: the same decisions, headers and token accounting as the
 * in-memory {@link RateLimiter}, atomic under parallel checks from several replicas, and each replica's share
 * (counted) while the backend is unreachable.
 */
class SharedRateLimiterTest {
    private RedisFixture redis;
    private RedisClient client;
    private final List<StatefulRedisConnection<String, String>> connections = new ArrayList<>();
    private final String prefix = "oqp:test:" + UUID.randomUUID() + ":";
    private final AtomicInteger degraded = new AtomicInteger();

    @BeforeEach
    void setUp() {
        redis = RedisFixture.start();
        client = RedisClient.create(redis.url());
    }

    @AfterEach
    void tearDown() {
        connections.forEach(StatefulRedisConnection::close);
        if (client != null) {
            client.shutdown(0, 1, TimeUnit.SECONDS);
        }
        if (redis != null) {
            redis.close();
        }
    }

    /** One replica's limiter, on a connection of its own. */
    private SharedRateLimiter replica(int replicas) {
        StatefulRedisConnection<String, String> c = client.connect();
        connections.add(c);
        return new SharedRateLimiter(c.async(), prefix, () -> replicas, Duration.ofMillis(500), degraded::incrementAndGet);
    }

    private static RateLimiter.Decision check(Limiter limiter, String client, RateLimits limits) {
        return limiter.check(client, limits).join();
    }

    @Test
    void theScriptDecidesAsTheInMemoryLimiterDoes() {
        SharedRateLimiter shared = replica(1);
        RateLimiter memory = new RateLimiter(System::nanoTime, Clock.systemUTC());
        RateLimits limits = new RateLimits(3, 1000, 0);
        for (int i = 0; i < 4; i++) {
            RateLimiter.Decision s = check(shared, "a", limits);
            RateLimiter.Decision m = memory.admit("a", limits);
            assertThat(s.allowed()).as("request " + i).isEqualTo(m.allowed());
            assertThat(s.limit()).isEqualTo(m.limit());
            assertThat(s.reserved()).isEqualTo(m.reserved());
            assertThat(s.headers().keySet()).isEqualTo(m.headers().keySet());
            assertThat(s.headers().get("X-RateLimit-Remaining-Requests")).isEqualTo(m.headers().get("X-RateLimit-Remaining-Requests"));
            assertThat(s.headers().get("X-RateLimit-Remaining-Tokens")).isEqualTo(m.headers().get("X-RateLimit-Remaining-Tokens"));
            if (!s.allowed()) {
                assertThat(s.limit()).isEqualTo("requests_per_minute");
                assertThat(s.retryAfterSeconds()).as("one request back every 20 s").isBetween(19L, 20L);
            }
        }
        assertThat(degraded).hasValue(0);
    }

    @Test
    void tokensArePrePaidThenSettledWithTheReportedCountAndTheAverageIsShared() {
        SharedRateLimiter a = replica(2);
        SharedRateLimiter b = replica(2);
        RateLimits limits = new RateLimits(0, 1000, 0);
        long start = System.nanoTime();
        RateLimiter.Decision first = check(a, "t", limits);
        assertThat(first.reserved()).isEqualTo(RateLimiter.FIRST_ESTIMATE);
        assertThat(first.headers()).containsEntry("X-RateLimit-Remaining-Tokens", Long.toString(1000 - RateLimiter.FIRST_ESTIMATE));
        a.settle("t", limits, first.reserved(), 100, true);
        // The settle is asynchronous: the other replica sees it once it has landed, and pre-pays the shared average.
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> {
            RateLimiter.Decision probe = check(b, "t", new RateLimits(0, 1000, 0));
            b.settle("t", limits, probe.reserved(), 0, false);
            return probe.reserved() == 100;
        });
        RateLimiter.Decision next = check(b, "t", limits);
        assertThat(next.reserved()).isEqualTo(100);
        long remaining = Long.parseLong(next.headers().get("X-RateLimit-Remaining-Tokens"));
        // 1000 a minute refill 1 token every 60 ms while the test runs.
        long refilled = (long) Math.ceil((System.nanoTime() - start) / 1e9 * 1000 / 60);
        assertThat(remaining).as("1000 - 100 reported - 100 pre-paid, plus the refill").isBetween(800L, 800L + refilled);
    }

    @Test
    void aDailyQuotaRefusesUntilTheNextUtcDay() {
        SharedRateLimiter shared = replica(1);
        RateLimits limits = new RateLimits(0, 0, 1);
        assertThat(check(shared, "d", limits).allowed()).isTrue();
        RateLimiter.Decision refused = check(shared, "d", limits);
        assertThat(refused.allowed()).isFalse();
        assertThat(refused.limit()).isEqualTo("tokens_per_day");
        assertThat(refused.retryAfterSeconds()).isBetween(1L, 86_401L);
        assertThat(refused.headers()).containsEntry("X-RateLimit-Remaining-Tokens-Day", "0");
    }

    @Test
    void aLimitTurnedOnByAReloadStartsFull() {
        SharedRateLimiter shared = replica(1);
        assertThat(check(shared, "r", new RateLimits(0, 1000, 0)).allowed()).isTrue();
        RateLimits reloaded = new RateLimits(2, 1000, 0);
        assertThat(check(shared, "r", reloaded).allowed()).isTrue();
        assertThat(check(shared, "r", reloaded).allowed()).isTrue();
        assertThat(check(shared, "r", reloaded).allowed()).isFalse();
    }

    @Test
    void parallelChecksFromThreeReplicasAdmitExactlyTheLimit() {
        List<SharedRateLimiter> replicas = List.of(replica(3), replica(3), replica(3));
        RateLimits limits = new RateLimits(10, 0, 0);
        List<CompletableFuture<RateLimiter.Decision>> all = new ArrayList<>();
        for (int i = 0; i < 90; i++) {
            all.add(replicas.get(i % 3).check("p", limits));
        }
        long admitted = all.stream().map(CompletableFuture::join).filter(RateLimiter.Decision::allowed).count();
        System.out.println("90 parallel checks over 3 replicas, requests_per_minute 10: " + admitted + " admitted");
        assertThat(admitted).isEqualTo(10);
        assertThat(degraded).hasValue(0);
    }

    @Test
    void withoutTheBackendEachReplicaDecidesOnItsShareAndCountsIt() {
        org.junit.jupiter.api.Assumptions.assumeTrue(redis.controllable(), "needs a server the test can stop");
        SharedRateLimiter shared = replica(3);
        redis.kill();
        RateLimits limits = new RateLimits(10, 0, 0);
        int admitted = 0;
        for (int i = 0; i < 6; i++) {
            RateLimiter.Decision d = check(shared, "x", limits);
            admitted += d.allowed() ? 1 : 0;
            assertThat(d.headers()).as("the headers say the share").containsEntry("X-RateLimit-Limit-Requests", "3");
        }
        assertThat(admitted).as("10 / 3 replicas").isEqualTo(3);
        assertThat(degraded).hasValue(6);
    }

    @Test
    void aShareIsTheLimitOverTheReplicasAtLeastOneAndNoLimitStaysNone() {
        SharedRateLimiter shared = replica(3);
        assertThat(shared.share(new RateLimits(10, 1000, 1))).isEqualTo(new RateLimits(3, 333, 1));
        assertThat(shared.share(new RateLimits(0, 0, 0))).isEqualTo(RateLimits.NONE);
        assertThat(replica(0).share(new RateLimits(10, 0, 0))).as("no replica known: this one").isEqualTo(new RateLimits(10, 0, 0));
    }
}
