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
    /** The fair-share spacing the acquire helper passes; 0 ranks by arrival alone. */
    private static long spacing;
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
        spacing = 0;
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
        Object missing = backend.run(Backend.RENEW, new String[] {p + "global"}, "60000", p, "renew", "l1", "h1", "a",
                "", "gone", "h1", "a", "").get(2, TimeUnit.SECONDS);
        // The ids missing from the global set, for the replica to tell a lease it released from one it lost.
        assertThat(missing).isEqualTo(List.of("gone"));
        assertThat(score("global", "l1")).isGreaterThan(before + 50_000);
        assertThat(score("host:h1", "l1")).isEqualTo(score("global", "l1"));
        assertThat(members("global")).containsExactly("l1");
        backend.run(Backend.RENEW, new String[] {p + "global"}, "60000", p, "adopt", "gone", "h1", "a", "")
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

    @Test
    void aClientsBacklogInterleavesWithAnotherClientsRequestByFairShare() throws Exception {
        spacing = 1_000;
        acquire(15_000, "l0", "w0", 0, "z", 0, 10, "i1", host("h1", 1));
        // Client a's three waiters take starts 1 s apart; b's one, asking after them, ranks second.
        for (String w : List.of("a1", "a2", "a3")) {
            assertThat(acquire(15_000, "l" + w, w, 0, "a", 0, 10, "i1", host("h1", 1))).isNull();
        }
        assertThat(acquire(15_000, "lb1", "b1", 0, "b", 0, 10, "i2", host("h1", 1))).isNull();
        assertThat(score("waiting", "a2") - score("waiting", "a1")).isEqualTo(1_000);
        assertThat(members("waiting")).containsExactly("a1", "b1", "a2", "a3");
        release("l0", "h1", "z");
        // a1 ranks first: b1 is refused, a1 granted; at the next release b1 goes before a2.
        assertThat(acquire(15_000, "lb1", "b1", 0, "b", 0, 10, "i2", host("h1", 1))).isNull();
        assertThat(acquire(15_000, "la1", "a1", 0, "a", 0, 10, "i1", host("h1", 1))).isEqualTo("h1");
        release("la1", "h1", "a");
        assertThat(acquire(15_000, "la2", "a2", 0, "a", 0, 10, "i1", host("h1", 1))).isNull();
        assertThat(acquire(15_000, "lb1", "b1", 0, "b", 0, 10, "i2", host("h1", 1))).isEqualTo("h1");
        // A client's start never runs further ahead than the tier's max_wait (600 s here), however many waiters
        // it registered and forgot; starts in the past leave the set.
        for (int i = 0; i < 700; i++) {
            acquire(15_000, "lx" + i, "x" + i, 0, "x", 0, 10, "i1", host("h1", 1));
            sync.zrem(p + "waiting", "x" + i);
        }
        double now = Double.parseDouble(sync.time().get(0)) * 1000;
        assertThat(sync.zscore(p + "fair", "x\nlow")).isLessThanOrEqualTo(now + 600_000 + 1_000 + 2_000);
        sync.zadd(p + "fair", 1, "old\nlow");
        acquire(15_000, "ly", "y", 0, "y", 0, 10, "i1", host("h1", 1));
        assertThat(sync.zscore(p + "fair", "old\nlow")).isNull();
    }

    @Test
    void moveTakesALeaseToAnotherHostWithItsExpiryAndTouchExtendsOnlyAMarkNamingItsHost() throws Exception {
        acquire(15_000, "l1", "w1", 0, "a", 0, 10, "i1", host("h1", 1));
        double expiry = score("host:h1", "l1");
        Object moved = backend.run(Backend.MOVE, new String[] {p + "global", p + "host:h1", p + "host:h2",
            p + "host-model:h1:m", p + "host-model:h2:m"}, "l1", backend.freedChannel(), "r1", "0", "1")
                .get(2, TimeUnit.SECONDS);
        assertThat(number(moved)).isEqualTo(1L);
        assertThat(card("host:h1")).isZero();
        assertThat(score("host:h2", "l1")).isEqualTo(expiry).isEqualTo(score("global", "l1"));
        // The host it joins caps its model: it is counted in that (host, model) set too.
        assertThat(score("host-model:h2:m", "l1")).isEqualTo(expiry);
        Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> freed.contains("r1"));
        // A lease no longer there (released, expired) is not moved.
        sync.zadd(p + "host:h3", 1e15, "gone");
        sync.zadd(p + "host-model:h3:m", 1e15, "gone");
        assertThat(number(backend.run(Backend.MOVE, new String[] {p + "global", p + "host:h3", p + "host:h2",
            p + "host-model:h3:m", p + "host-model:h2:m"}, "gone", backend.freedChannel(), "r1", "1", "1")
                .get(2, TimeUnit.SECONDS))).isEqualTo(0L);
        assertThat(card("host-model:h3:m")).isZero();
        assertThat(card("host:h3")).isZero();
        assertThat(members("host:h2")).containsExactly("l1");

        sync.psetex(p + "loading:m", 1_000, "h1");
        sync.psetex(p + "loading:n", 1_000, "h3");
        Object touched = backend.run(Backend.TOUCH, new String[] {p + "loading:m", p + "loading:n"}, "60000", "h1",
                "h2").get(2, TimeUnit.SECONDS);
        assertThat(number(touched)).isEqualTo(1L);
        assertThat(sync.pttl(p + "loading:m")).isGreaterThan(50_000);
        assertThat(sync.pttl(p + "loading:n")).isLessThanOrEqualTo(1_000);
    }

    @Test
    void aHostAtItsCapForAModelIsFullForThatModelOnlyAndTheCapIsRenewedAndReleasedWithTheLease() throws Exception {
        // h1 has 4 slots and runs at most 1 request of model m; h2 has room for everything.
        assertThat(acquire(15_000, "l1", "w1", 0, "a", 0, 10, "i1", host("h1", 4, "m", 1), host("h2", 4, "m", 1)))
                .isEqualTo("h1");
        assertThat(members("host-model:h1:m")).containsExactly("l1");
        // The next request of m skips h1 (at its cap for m) and is granted h2.
        assertThat(acquire(15_000, "l2", "w2", 0, "b", 0, 10, "i1", host("h1", 4, "m", 1), host("h2", 4, "m", 1)))
                .isEqualTo("h2");
        // Only h1 able: refused, nothing taken anywhere.
        assertThat(acquire(15_000, "l3", "w3", 0, "c", 0, 10, "i2", host("h1", 4, "m", 1))).isNull();
        assertThat(members("host:h1")).containsExactly("l1");
        // Another model (no cap) still goes to h1.
        assertThat(acquire(15_000, "l4", "w4", 0, "d", 0, 10, "i1", host("h1", 4, "other", 0))).isEqualTo("h1");
        assertThat(sync.exists(p + "host-model:h1:other")).isZero();
        double before = score("host-model:h1:m", "l1");
        backend.run(Backend.RENEW, new String[] {p + "global"}, "60000", p, "renew", "l1", "h1", "a", "m")
                .get(2, TimeUnit.SECONDS);
        assertThat(score("host-model:h1:m", "l1")).isGreaterThan(before + 40_000);
        backend.run(Backend.RELEASE, new String[] {p + "global", p + "host:h1", p + "client:a", p + "host-model:h1:m"},
                "l1", backend.freedChannel(), "r1").get(2, TimeUnit.SECONDS);
        assertThat(card("host-model:h1:m")).isZero();
        // w3 waits, better ranked than a newcomer: granted h1 now that m is below its cap there.
        assertThat(acquire(15_000, "l3", "w3", 0, "c", 0, 10, "i2", host("h1", 4, "m", 1))).isEqualTo("h1");
    }

    // ---- helpers ----

    /** A script's integer (it comes back as a one-element list: the scripts are run with output type MULTI). */
    private static long number(Object reply) {
        Object n = reply instanceof List<?> l && !l.isEmpty() ? l.get(0) : reply;
        return ((Number) n).longValue();
    }

    private static String[] host(String name, int cap) {
        return new String[] {name, Integer.toString(cap)};
    }

    /** A candidate host with its cap for the request's model (0 = none). */
    private static String[] host(String name, int cap, String model, int modelCap) {
        return new String[] {name, Integer.toString(cap), model, Integer.toString(modelCap)};
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
                client, Integer.toString(clientCap), Integer.toString(globalCap), "64", "", p, "", Long.toString(spacing),
                client + "\nlow", "600000"));
        for (String[] h : hosts) {
            keys.add(p + "host:" + h[0]);
            names.add(h[0]);
            args.add(h[0]);
            args.add(h[1]);
        }
        // Each host's (host, model) set and cap for the request's model, at the end.
        for (String[] h : hosts) {
            keys.add(p + "host-model:" + h[0] + ":" + (h.length > 2 ? h[2] : "m"));
            args.add(h.length > 2 ? h[3] : "0");
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
