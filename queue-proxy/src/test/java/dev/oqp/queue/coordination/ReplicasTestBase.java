package dev.oqp.queue.coordination;

import java.util.ArrayList;
import java.util.List;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.queue.cache.RedisFixture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.slf4j.LoggerFactory;

/**
 * What every replica test starts and stops: a Redis of its own, the replicas (in this JVM) and the fake hosts, stopped
 * in that order after each test; and {@link Coordination}'s log lines, captured in {@link #log}.
 */
abstract class ReplicasTestBase {
    protected RedisFixture redis;
    protected final Replicas replicas = new Replicas();
    protected final List<FakeOllama> hosts = new ArrayList<>();
    protected final ListAppender<ILoggingEvent> log = new ListAppender<>();

    @BeforeEach
    void startRedis() {
        redis = RedisFixture.start();
        log.start();
        ((Logger) LoggerFactory.getLogger(Coordination.class)).addAppender(log);
    }

    @AfterEach
    void stopAll() {
        ((Logger) LoggerFactory.getLogger(Coordination.class)).detachAppender(log);
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
