package dev.oqp.queue.coordination;

import java.util.ArrayList;
import java.util.List;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.queue.cache.RedisFixture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * What every replica test starts and stops: a Redis of its own, the replicas (in this JVM) and the fake hosts, stopped
 * in that order after each test.
 */
abstract class ReplicasTestBase {
    protected RedisFixture redis;
    protected final Replicas replicas = new Replicas();
    protected final List<FakeOllama> hosts = new ArrayList<>();

    @BeforeEach
    void startRedis() {
        redis = RedisFixture.start();
    }

    @AfterEach
    void stopAll() {
        replicas.close();
        hosts.forEach(FakeOllama::stop);
        redis.close();
    }

    /** Starts a fake host that is stopped after the test. */
    protected FakeOllama host(FakeOllama.Builder b) {
        FakeOllama h = b.start();
        hosts.add(h);
        return h;
    }
}
