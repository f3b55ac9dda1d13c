package dev.oqp.queue.coordination;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import dev.oqp.common.config.CoordinationConfig;
import dev.oqp.queue.cache.RedisFixture;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.sync.RedisCommands;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Lua scripts against a real Valkey/Redis: all or none, expiry, renewal, release with its message, priority. */
class ScriptsTest {
    private static RedisFixture redis;
    private static Backend backend;
    private static final List<String> freed = new CopyOnWriteArrayList<>();
    private static String p;
    private static RedisClient client;
    private static RedisCommands<String, String> sync;

    @BeforeAll
    static void start() {
        redis = RedisFixture.start();
        backend = new Backend(new CoordinationConfig(redis.url(), "r1", Duration.ofSeconds(15), Duration.ofSeconds(2),
                CoordinationConfig.OnFailure.LOCAL_SHARE, Duration.ofMillis(500), "t:"));
        backend.connect(freed::add);
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(backend::connected);
        p = backend.prefix;
        client = RedisClient.create(redis.url());
        sync = client.connect().sync();
    }

    @AfterAll
    static void stop() {
        if (backend != null) {
            backend.close();
        }
        if (client != null) {
            client.shutdown();
        }
        if (redis != null) {
            redis.close();
        }
    }

    @BeforeEach
    void flush() throws Exception {
        sync.flushall();
        freed.clear();
        // Incarnations alive for a minute: i1 (better ranked in the priority tests) and i2.
        heartbeat("r1", "i1");
        heartbeat("r2", "i2");
    }

    @Test
    void acquireLeavesTheReservedGlobalSlotsFree() throws Exception {
        // Global cap 3, one slot taken: two free. Keeping 2 free refuses, keeping 1 grants, then keeping 1 refuses.
        assertThat(acquire(15_000, "l1", "w1", 0, "a", 0, 3, "i1", host("h1", 5))).isEqualTo("h1");
        assertThat(acquireKeeping(2, 15_000, "l2", "w2", 0, "b", 0, 3, "i1", host("h1", 5))).isNull();
        assertThat(card("global")).isEqualTo(1);
        // A refused waiter stays ranked (and would claim a slot ahead of later ones): out of the way here.
        sync.zrem(p + "waiting", "w2");
        assertThat(acquireKeeping(1, 15_000, "l3", "w3", 0, "c", 0, 3, "i1", host("h1", 5))).isEqualTo("h1");
        assertThat(acquireKeeping(1, 15_000, "l4", "w4", 0, "d", 0, 3, "i1", host("h1", 5))).isNull();
        sync.zrem(p + "waiting", "w4");
        // Nothing kept: the last slot goes.
        assertThat(acquire(15_000, "l5", "w5", 0, "e", 0, 3, "i1", host("h1", 5))).isEqualTo("h1");
        assertThat(card("global")).isEqualTo(3);
    }

    @Test
    void acquireTakesEverySlotOrNone() throws Exception {
        assertThat(acquire(15_000, "l1", "w1", 0, "a", 0, 10, "i1", host("h1", 1))).isEqualTo("h1");
        // Host full: client b's acquire adds nothing anywhere.
        assertThat(acquire(15_000, "l2", "w2", 0, "b", 0, 10, "i1", host("h1", 1))).isNull();
        assertThat(card("global")).isEqualTo(1);
        assertThat(card("client:b")).isZero();
        // Client a at its cap of 1 on a free host: nothing is taken either.
        assertThat(acquire(15_000, "l3", "w3", 0, "a", 1, 10, "i1", host("h2", 5))).isNull();
        assertThat(card("host:h2")).isZero();
        assertThat(card("global")).isEqualTo(1);
        // Global cap of 1 reached.
        assertThat(acquire(15_000, "l4", "w4", 0, "c", 0, 1, "i1", host("h2", 5))).isNull();
        assertThat(card("host:h2")).isZero();
    }

    @Test
    void anExpiredLeaseNoLongerCounts() throws Exception {
        assertThat(acquire(200, "l1", "w1", 0, "a", 0, 10, "i1", host("h1", 1))).isEqualTo("h1");
        assertThat(acquire(15_000, "l2", "w2", 0, "a", 0, 10, "i1", host("h1", 1))).isNull();
        Thread.sleep(300);
        // w2 waits, ranked first: its own retry is granted once the lease expired.
        assertThat(acquire(15_000, "l2", "w2", 0, "a", 0, 10, "i1", host("h1", 1))).isEqualTo("h1");
        assertThat(members("host:h1")).containsExactly("l2");
        assertThat(card("waiting")).isZero();
    }

    @Test
    void renewExtendsOnlyExistingLeasesAndAdoptAddsMissingOnes() throws Exception {
        acquire(1_000, "l1", "w1", 0, "a", 0, 10, "i1", host("h1", 2));
        double before = score("global", "l1");
        backend.run(Backend.RENEW, new String[] {p + "global"}, "60000", p, "renew", "l1", "h1", "a", "gone", "h1", "a")
                .get(2, TimeUnit.SECONDS);
        assertThat(score("global", "l1")).isGreaterThan(before + 50_000);
        assertThat(score("host:h1", "l1")).isEqualTo(score("global", "l1"));
        assertThat(members("global")).containsExactly("l1");
        backend.run(Backend.RENEW, new String[] {p + "global"}, "60000", p, "adopt", "gone", "h1", "a")
                .get(2, TimeUnit.SECONDS);
        assertThat(members("host:h1")).containsExactlyInAnyOrder("l1", "gone");
        assertThat(members("client:a")).containsExactlyInAnyOrder("l1", "gone");
    }

    @Test
    void releaseRemovesEverywhereAndPublishesFreed() throws Exception {
        acquire(15_000, "l1", "w1", 0, "a", 0, 10, "i1", host("h1", 2));
        backend.run(Backend.RELEASE, new String[] {p + "global", p + "host:h1", p + "client:a"}, "l1",
                backend.freedChannel(), "r1").get(2, TimeUnit.SECONDS);
        assertThat(card("global") + card("host:h1") + card("client:a")).isZero();
        Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> freed.contains("r1"));
    }

    @Test
    void aBetterRankedLiveWaiterThatCouldUseTheHostIsServedFirst() throws Exception {
        acquire(15_000, "l0", "w0", 0, "z", 0, 10, "i1", host("h1", 1));
        // A high waiter (offset 0) of replica i1 and, later, a low one (offset 2e12) of i2, both refused.
        assertThat(acquire(15_000, "lh", "high", 0, "a", 0, 10, "i1", host("h1", 1))).isNull();
        assertThat(acquire(15_000, "ll", "low", 2_000_000_000_000L, "b", 0, 10, "i2", host("h1", 1))).isNull();
        release("l0", "h1", "z");
        // The slot is free, but the high waiter could use it: the low one is refused...
        assertThat(acquire(15_000, "ll", "low", 2_000_000_000_000L, "b", 0, 10, "i2", host("h1", 1))).isNull();
        assertThat(acquire(15_000, "lh", "high", 0, "a", 0, 10, "i1", host("h1", 1))).isEqualTo("h1");
        release("lh", "h1", "a");
        assertThat(acquire(15_000, "ll", "low", 2_000_000_000_000L, "b", 0, 10, "i2", host("h1", 1))).isEqualTo("h1");
        assertThat(card("waiting")).isZero();
    }

    @Test
    void aBetterWaiterWhoseClientIsAtItsCapOrOfADeadReplicaDoesNotBlock() throws Exception {
        acquire(15_000, "la", "wa", 0, "a", 1, 10, "i1", host("h2", 1));
        // Waiter of client a (cap 1, at it) ranks first but cannot run: b is granted h1.
        assertThat(acquire(15_000, "lx", "first", 0, "a", 1, 10, "i1", host("h1", 1))).isNull();
        assertThat(acquire(15_000, "lb", "second", 1_000, "b", 0, 10, "i2", host("h1", 1))).isEqualTo("h1");
        // A better waiter of an incarnation that stopped its heartbeat is skipped and swept.
        assertThat(acquire(15_000, "ly", "ghost", 0, "c", 0, 10, "dead", host("h1", 1))).isNull();
        assertThat(sync.zscore(p + "waiting", "ghost")).isNotNull();
        release("lb", "h1", "b");
        assertThat(acquire(15_000, "lz", "later", 1_000, "d", 0, 10, "i2", host("h1", 1))).isEqualTo("h1");
        assertThat(sync.zscore(p + "waiting", "ghost")).isNull();
        assertThat(sync.hexists(p + "waiter-data", "ghost")).isFalse();
    }

    // ---- helpers ----

    private static String[] host(String name, int cap) {
        return new String[] {name, Integer.toString(cap)};
    }

    private static String acquire(long leaseMs, String leaseId, String waiter, long offset, String client, int clientCap,
                                  int globalCap, String incarnation, String[]... hosts) throws Exception {
        return acquireKeeping(0, leaseMs, leaseId, waiter, offset, client, clientCap, globalCap, incarnation, hosts);
    }

    /** {@link #acquire} that must leave {@code keepFree} global slots free (the reserves of others). */
    private static String acquireKeeping(int keepFree, long leaseMs, String leaseId, String waiter, long offset,
                                         String client, int clientCap, int globalCap, String incarnation,
                                         String[]... hosts) throws Exception {
        List<String> keys = new ArrayList<>(List.of(p + "global", p + "client:" + client, p + "waiting",
                p + "waiter-data", p + "incarnations"));
        List<String> names = new ArrayList<>();
        List<String> args = new ArrayList<>(List.of(Long.toString(leaseMs), leaseId, waiter, Long.toString(offset),
                client, Integer.toString(clientCap), Integer.toString(globalCap), "64", "", p, ""));
        for (String[] h : hosts) {
            keys.add(p + "host:" + h[0]);
            names.add(h[0]);
            args.add(h[0]);
            args.add(h[1]);
        }
        args.set(8, incarnation + "\n" + client + "\n" + clientCap + "\n" + String.join(",", names));
        args.add(Integer.toString(keepFree));
        List<?> reply = (List<?>) backend.run(Backend.ACQUIRE, keys.toArray(String[]::new), args.toArray(String[]::new))
                .get(2, TimeUnit.SECONDS);
        return ((Number) reply.get(0)).longValue() == 1 ? String.valueOf(reply.get(1)) : null;
    }

    private static void release(String id, String host, String client) throws Exception {
        backend.run(Backend.RELEASE, new String[] {p + "global", p + "host:" + host, p + "client:" + client}, id,
                backend.freedChannel(), "r1").get(2, TimeUnit.SECONDS);
    }

    private static void heartbeat(String id, String incarnation) throws Exception {
        backend.run(Backend.HEARTBEAT, new String[] {p + "replicas", p + "replica-data", p + "incarnations"}, id,
                "60000", "digest\n0", incarnation).get(2, TimeUnit.SECONDS);
    }

    private static long card(String key) {
        return sync.zcard(p + key);
    }

    private static double score(String key, String member) {
        return sync.zscore(p + key, member);
    }

    private static List<String> members(String key) {
        return sync.zrange(p + key, 0, -1);
    }
}
