package dev.oqp.queue.routing;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.config.HostConfig;
import dev.oqp.common.config.QueueConfig;
import dev.oqp.common.config.RoutingConfig;
import dev.oqp.common.config.RoutingConfig.Fallback;
import dev.oqp.common.config.RoutingConfig.Strategy;
import dev.oqp.common.config.Tier;
import dev.oqp.queue.scheduler.Admission;
import dev.oqp.queue.scheduler.Grant;
import dev.oqp.queue.scheduler.Lease;
import dev.oqp.queue.scheduler.Rejection;
import dev.oqp.queue.scheduler.Scheduler;
import dev.oqp.queue.scheduler.Ticket;
import dev.oqp.queue.scheduler.Ticks;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class SlotPoolTest {
    private static final String LLAMA = "llama3:latest";
    private static final String MISTRAL = "mistral:latest";

    private static HostConfig host(String name, int slots, int weight) {
        return new HostConfig(name, URI.create("http://" + name + ":11434"), slots, weight, Map.of());
    }

    private static Fleet fleet(HostConfig... hosts) {
        return new Fleet(List.of(hosts));
    }

    private static SlotPool pool(Fleet fleet, Strategy strategy) {
        return new SlotPool(fleet, new RoutingConfig(strategy, Fallback.ANY_HEALTHY, true), 0, id -> 0);
    }

    private static SlotPool modelAware(Fleet fleet) {
        return pool(fleet, Strategy.MODEL_AWARE);
    }

    /** A synced inventory: {@code installed} on disk, {@code loaded} in memory (and on disk). */
    private static void inventory(Fleet fleet, String host, List<String> installed, String... loaded) {
        Map<String, Host.Loaded> inMemory = new HashMap<>();
        List<String> onDisk = new ArrayList<>(installed);
        for (String model : loaded) {
            inMemory.put(model, new Host.Loaded(model, null, 0));
            onDisk.add(model);
        }
        fleet.inventory(fleet.host(host), new Host.Inventory(Set.copyOf(onDisk), inMemory, Instant.now()));
    }

    private static void installed(Fleet fleet, String host, String... models) {
        inventory(fleet, host, Arrays.asList(models));
    }

    private static void loaded(Fleet fleet, String host, String... models) {
        inventory(fleet, host, List.of(), models);
    }

    /** A synced inventory without any model. */
    private static void empty(Fleet fleet, String host) {
        inventory(fleet, host, List.of());
    }

    private static Ticket ticket(String client) {
        return ticket(client, LLAMA);
    }

    private static Ticket ticket(String client, String model) {
        return new Ticket(client, Tier.NORMAL, 10, model, onDispatch(lease -> { }));
    }

    /** A listener that only cares about the dispatch; any other outcome is a test failure. */
    private static Ticket.Listener onDispatch(Consumer<Lease> dispatched) {
        return new Ticket.Listener() {
            @Override
            public void dispatched(Grant lease, long waitedNanos) {
                dispatched.accept(lease);
            }

            @Override
            public void rejected(Rejection rejection) {
                throw new AssertionError("rejected: " + rejection);
            }

            @Override
            public void expired(long waitedNanos) {
                throw new AssertionError("expired");
            }

            @Override
            public void cancelled(long waitedNanos) {
                throw new AssertionError("cancelled");
            }

            @Override
            public void flushed(long waitedNanos) {
                throw new AssertionError("flushed");
            }
        };
    }

    private static SlotPool.HostLease hostLease(Lease lease) {
        assertThat(lease).as("a lease").isNotNull();
        // What the pool hands out, or what the scheduler hands a dispatched ticket (the pool's lease in a grant).
        return (SlotPool.HostLease) (lease instanceof Grant<?> grant ? grant.lease() : lease);
    }

    private static String hostOf(Lease lease) {
        return hostLease(lease).host().name();
    }

    private static Scheduler scheduler(SlotPool pool) {
        return new Scheduler(new QueueConfig(QueueConfig.DEFAULT_HIGH, QueueConfig.DEFAULT_NORMAL,
                QueueConfig.DEFAULT_LOW, 503, QueueConfig.DEFAULT_AGING, QueueConfig.DEFAULT_MAX_QUEUED_BYTES),
                Ticks.SYSTEM, pool);
    }

    /** model_aware: which host has the model. */
    @Nested
    class ModelAware {
        @Test
        void modelLoadedOnlyOnSecondHostGoesThereEvenWhenFirstIsIdle() {
            Fleet fleet = fleet(host("a", 2, 5), host("b", 2, 1));
            inventory(fleet, "a", List.of(LLAMA), MISTRAL);
            loaded(fleet, "b", LLAMA);
            SlotPool pool = modelAware(fleet);

            Lease first = pool.tryAcquire(ticket("x"));
            Lease second = pool.tryAcquire(ticket("x"));

            assertThat(hostOf(first)).as("a comes first and weighs more, but only b has it in memory").isEqualTo("b");
            assertThat(hostLease(first).reason()).isEqualTo("loaded");
            assertThat(hostOf(second)).as("b is busier than idle a, but a would have to load it").isEqualTo("b");
            assertThat(pool.inFlight("a")).isZero();
            Lease third = pool.tryAcquire(ticket("x"));
            assertThat(hostOf(third)).as("b full: installed on a").isEqualTo("a");
            assertThat(hostLease(third).reason()).isEqualTo("installed");
        }

        @Test
        void installedEverywhereButLoadedOnAGoesToA() {
            Fleet fleet = fleet(host("a", 3, 1), host("b", 3, 5), host("c", 3, 1));
            loaded(fleet, "a", LLAMA);
            installed(fleet, "b", LLAMA);
            installed(fleet, "c", LLAMA);
            SlotPool pool = modelAware(fleet);

            List<String> chosen = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Lease lease = pool.tryAcquire(ticket("x"));
                chosen.add(hostOf(lease));
                assertThat(hostLease(lease).reason()).isEqualTo("loaded");
            }

            assertThat(chosen).as("loaded beats fewer in flight and a higher weight").containsExactly("a", "a", "a");
            Lease fourth = pool.tryAcquire(ticket("x"));
            assertThat(hostOf(fourth)).as("a full: installed, higher weight").isEqualTo("b");
            assertThat(hostLease(fourth).reason()).isEqualTo("installed");
        }

        @Test
        void installedBeatsNotYetSyncedWhichBeatsAbsent() {
            Fleet fleet = fleet(host("a", 1, 1), host("b", 1, 1), host("c", 1, 1), host("d", 1, 1));
            installed(fleet, "a", MISTRAL);
            // b never synced
            installed(fleet, "c", LLAMA);
            empty(fleet, "d");
            SlotPool pool = modelAware(fleet);

            Lease first = pool.tryAcquire(ticket("x"));
            Lease second = pool.tryAcquire(ticket("x"));

            assertThat(hostOf(first)).isEqualTo("c");
            assertThat(hostLease(first).reason()).isEqualTo("installed");
            assertThat(hostOf(second)).isEqualTo("b");
            assertThat(hostLease(second).reason()).isEqualTo("unsynced");
            assertThat(pool.tryAcquire(ticket("x"))).as("a and d lack the model").isNull();
        }

        @Test
        void equallyGoodHostsGoToFewestInFlightPerWeightThenByWeightedRotation() {
            Fleet fleet = fleet(host("a", 2, 1), host("b", 2, 3), host("c", 2, 1));
            for (String h : List.of("a", "b", "c")) {
                installed(fleet, h, LLAMA);
            }
            SlotPool pool = modelAware(fleet);

            assertThat(hostOf(pool.tryAcquire(ticket("x")))).isEqualTo("b");
            assertThat(hostOf(pool.tryAcquire(ticket("x")))).isEqualTo("a");
            assertThat(hostOf(pool.tryAcquire(ticket("x")))).isEqualTo("c");
            assertThat(hostOf(pool.tryAcquire(ticket("x")))).isEqualTo("b");
            assertThat(pool.inFlight()).isEqualTo(4);
        }

        @Test
        void shortNameMatchesLatestTag() throws Exception {
            ObjectMapper json = new ObjectMapper();
            Fleet fleet = fleet(host("a", 2, 1), host("b", 2, 1));
            fleet.inventory(fleet.host("a"), FleetMonitor.inventory(
                    json.readTree("{\"models\":[{\"name\":\"llama3:8b\"}]}"), json.readTree("{\"models\":[]}"), Instant.now()));
            fleet.inventory(fleet.host("b"), FleetMonitor.inventory(
                    json.readTree("{\"models\":[{\"name\":\"llama3:latest\"}]}"), json.readTree("{\"models\":[]}"), Instant.now()));
            SlotPool pool = modelAware(fleet);

            for (String asked : List.of("llama3", "Library/Llama3", "registry.ollama.ai/library/llama3:latest")) {
                SlotPool.Choice choice = pool.pick(ModelNames.normalise(asked), Set.of());
                assertThat(choice.host().name()).as(asked).isEqualTo("b");
                assertThat(choice.reason()).as(asked).isEqualTo("installed");
            }
            assertThat(pool.pick(ModelNames.normalise("llama3:8b"), Set.of()).host().name()).isEqualTo("a");
            assertThat(hostOf(pool.tryAcquire(ticket("x", ModelNames.normalise("llama3"))))).isEqualTo("b");
        }

        @Test
        void requestWithoutAModelGoesToTheLeastBusyHost() {
            Fleet fleet = fleet(host("a", 2, 1), host("b", 2, 1));
            loaded(fleet, "b", LLAMA);
            SlotPool pool = modelAware(fleet);

            assertThat(hostOf(pool.tryAcquire(ticket("x", null)))).isEqualTo("a");
            assertThat(hostOf(pool.tryAcquire(ticket("x", null)))).isEqualTo("b");
        }
    }

    /** A request waits for a full able host rather than spilling to one without its model. */
    @Nested
    class WaitingRatherThanSpilling {
        @Test
        void fullAbleHostsMakeTheRequestWaitInsteadOfSpilling() {
            Fleet fleet = fleet(host("a", 1, 1), host("b", 4, 1));
            loaded(fleet, "a", LLAMA);
            empty(fleet, "b");
            SlotPool pool = modelAware(fleet);

            Lease first = pool.tryAcquire(ticket("x"));
            assertThat(hostOf(first)).isEqualTo("a");

            assertThat(pool.tryAcquire(ticket("y"))).as("b is free but lacks the model").isNull();
            assertThat(pool.inFlight()).as("a refused request holds nothing").isEqualTo(1);
            assertThat(pool.inFlight("b")).isZero();
            assertThat(pool.clientInFlight("y")).isZero();

            first.release();
            assertThat(hostOf(pool.tryAcquire(ticket("y")))).isEqualTo("a");
        }

        @Test
        void fullAbleHostsMakeTheRequestWaitUnderEveryStrategy() {
            for (Strategy strategy : Strategy.values()) {
                Fleet fleet = fleet(host("a", 1, 1), host("b", 4, 1));
                installed(fleet, "a", LLAMA);
                empty(fleet, "b");
                SlotPool pool = pool(fleet, strategy);

                assertThat(hostOf(pool.tryAcquire(ticket("x")))).as(strategy.name()).isEqualTo("a");
                assertThat(pool.tryAcquire(ticket("x"))).as(strategy.name()).isNull();
            }
        }

        @Test
        void otherModelWithFreeHostIsNotHeld() {
            Fleet fleet = fleet(host("a", 1, 1), host("b", 1, 1));
            loaded(fleet, "a", LLAMA);
            loaded(fleet, "b", MISTRAL);
            SlotPool pool = modelAware(fleet);
            Scheduler scheduler = scheduler(pool);
            List<String> dispatched = new ArrayList<>();
            AtomicReference<Lease> firstLease = new AtomicReference<>();

            Ticket first = new Ticket("x", Tier.NORMAL, 10, LLAMA, onDispatch(lease -> {
                firstLease.set(lease);
                dispatched.add("first@" + hostOf(lease));
            }));
            Ticket waiting = new Ticket("x", Tier.NORMAL, 10, LLAMA,
                    onDispatch(lease -> dispatched.add("waiting@" + hostOf(lease))));
            Ticket other = new Ticket("x", Tier.NORMAL, 10, MISTRAL,
                    onDispatch(lease -> dispatched.add("other@" + hostOf(lease))));

            assertThat(scheduler.submit(first)).isEqualTo(Admission.DISPATCHED);
            assertThat(scheduler.submit(waiting)).isEqualTo(Admission.QUEUED);
            assertThat(scheduler.submit(other)).as("not stuck behind the waiting llama3 request")
                    .isEqualTo(Admission.DISPATCHED);
            assertThat(dispatched).containsExactly("first@a", "other@b");

            firstLease.get().release();
            assertThat(dispatched).containsExactly("first@a", "other@b", "waiting@a");
        }
    }

    /** Host health: an unhealthy host is never chosen, one not checked yet is usable. */
    @Nested
    class HostHealth {
        @Test
        void unhealthyHostIsNeverChosen() {
            Fleet fleet = fleet(host("a", 4, 9), host("b", 4, 1), host("c", 4, 1));
            loaded(fleet, "a", LLAMA);
            empty(fleet, "b");
            installed(fleet, "c", LLAMA);
            SlotPool pool = modelAware(fleet);

            fleet.markUnhealthy(fleet.host("a"), true, "down");
            for (Strategy strategy : Strategy.values()) {
                SlotPool p = pool(fleet, strategy);
                List<Lease> leases = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    Lease lease = p.tryAcquire(ticket("x"));
                    assertThat(hostOf(lease)).as(strategy.name()).isEqualTo("c");
                    leases.add(lease);
                }
                // Slots are counted on the hosts, which the pools of this loop share.
                leases.forEach(Lease::release);
            }
            assertThat(pool.pick(LLAMA, Set.of()).host().name()).isEqualTo("c");

            fleet.markUnhealthy(fleet.host("c"), false, "could not connect");
            assertThat(pool.pick(LLAMA, Set.of())).as("only down hosts have it: it waits for them, no fallback").isNull();
            assertThat(pool.tryAcquire(ticket("x"))).isNull();
            SlotPool.Choice onlyB = pool.pick("nosuch:latest", Set.of());
            assertThat(onlyB.host().name()).as("no host has it: fallback to the usable one").isEqualTo("b");
            assertThat(onlyB.reason()).isEqualTo("fallback");

            fleet.markUnhealthy(fleet.host("b"), true, "down");
            assertThat(pool.tryAcquire(ticket("x"))).isNull();
            assertThat(pool.pick(LLAMA, Set.of())).isNull();
            assertThat(pool.pick(null, Set.of())).isNull();

            fleet.markHealthy(fleet.host("a"));
            assertThat(hostOf(pool.tryAcquire(ticket("x")))).as("healthy again").isEqualTo("a");
        }

        @Test
        void hostNotCheckedYetIsUsable() {
            Fleet fleet = fleet(host("a", 1, 1));
            SlotPool pool = modelAware(fleet);

            Lease lease = pool.tryAcquire(ticket("x"));

            assertThat(hostOf(lease)).isEqualTo("a");
            assertThat(hostLease(lease).reason()).isEqualTo("unsynced");
        }
    }

    /** Fallback to any healthy host when no host has the model. */
    @Nested
    class FallbackToAnyHealthyHost {
        @Test
        void fallbackAnyHealthyWhenNoHostHasTheModel() {
            Fleet fleet = fleet(host("a", 2, 1), host("b", 1, 1), host("c", 1, 1));
            loaded(fleet, "a", MISTRAL);
            empty(fleet, "b");
            empty(fleet, "c");
            fleet.markUnhealthy(fleet.host("c"), true, "down");
            SlotPool pool = modelAware(fleet);
            Lease mistral = pool.tryAcquire(ticket("x", MISTRAL));
            assertThat(hostOf(mistral)).isEqualTo("a");

            Lease first = pool.tryAcquire(ticket("x"));
            assertThat(hostOf(first)).as("fewest in flight among the usable hosts").isEqualTo("b");
            assertThat(hostLease(first).reason()).isEqualTo("fallback");
            Lease second = pool.tryAcquire(ticket("x"));
            assertThat(hostOf(second)).isEqualTo("a");
            assertThat(hostLease(second).reason()).isEqualTo("fallback");
            assertThat(pool.tryAcquire(ticket("x"))).as("every usable host full").isNull();
        }

        @Test
        void fallbackReasonUnderEveryStrategy() {
            for (Strategy strategy : Strategy.values()) {
                Fleet fleet = fleet(host("a", 1, 1));
                empty(fleet, "a");
                SlotPool pool = pool(fleet, strategy);

                Lease lease = pool.tryAcquire(ticket("x"));

                assertThat(hostOf(lease)).as(strategy.name()).isEqualTo("a");
                assertThat(hostLease(lease).reason()).as(strategy.name()).isEqualTo("fallback");
            }
        }
    }

    /** round_robin and least_busy. */
    @Nested
    class OtherStrategies {
        @Test
        void roundRobinRotatesInConfigOrderWhenWeightsAreEqual() {
            Fleet fleet = fleet(host("a", 4, 1), host("b", 4, 1), host("c", 4, 1));
            SlotPool pool = pool(fleet, Strategy.ROUND_ROBIN);

            List<String> chosen = new ArrayList<>();
            List<Lease> leases = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                Lease lease = pool.tryAcquire(ticket("x"));
                chosen.add(hostOf(lease));
                leases.add(lease);
                assertThat(hostLease(lease).reason()).isEqualTo("round_robin");
            }
            assertThat(chosen).containsExactly("a", "b", "c", "a", "b");

            leases.forEach(Lease::release);
            assertThat(hostOf(pool.tryAcquire(ticket("x")))).as("goes on after b, not back to the start").isEqualTo("c");
        }

        @Test
        void leastBusyCountsTheOtherReplicasRequestsFromTheLastSnapshot() {
            Fleet fleet = fleet(host("a", 10, 1), host("b", 10, 1));
            SlotPool pool = pool(fleet, Strategy.LEAST_BUSY);
            Lease mine = pool.tryAcquire(ticket("x"));
            assertThat(hostOf(mine)).isEqualTo("a");
            // The snapshot counts every replica: a runs mine and two others', b one other's.
            pool.sharedInFlight("a", 3);
            pool.sharedInFlight("b", 1);

            assertThat(hostOf(pool.tryAcquire(ticket("x")))).as("a: 3, b: 1").isEqualTo("b");
            assertThat(hostOf(pool.tryAcquire(ticket("x")))).as("a: 3, b: 2").isEqualTo("b");
            mine.release();
            assertThat(hostOf(pool.tryAcquire(ticket("x")))).as("a: 2 (mine released), b: 3").isEqualTo("a");
        }

        @Test
        void roundRobinGivesAHeavierHostItsShareInterleavedEvenWithRequestsInFlight() {
            Fleet fleet = fleet(host("a", 10, 1), host("b", 10, 2));
            SlotPool pool = pool(fleet, Strategy.ROUND_ROBIN);

            List<String> chosen = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                chosen.add(hostOf(pool.tryAcquire(ticket("x"))));
            }

            assertThat(chosen).as("round_robin ignores what is in flight: weight alone").containsExactly("b", "a", "b", "b", "a", "b");
        }

        @Test
        void roundRobinSkipsHostsWithoutTheModelAndFullHosts() {
            Fleet fleet = fleet(host("a", 1, 1), host("b", 4, 1), host("c", 4, 1));
            installed(fleet, "a", LLAMA);
            empty(fleet, "b");
            installed(fleet, "c", LLAMA);
            SlotPool pool = pool(fleet, Strategy.ROUND_ROBIN);

            List<String> chosen = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                chosen.add(hostOf(pool.tryAcquire(ticket("x"))));
            }

            assertThat(chosen).as("b lacks the model; a has one slot").containsExactly("a", "c", "c", "c");
        }

        @Test
        void leastBusyIgnoresLoadedState() {
            Fleet fleet = fleet(host("a", 2, 1), host("b", 2, 1), host("c", 2, 9));
            installed(fleet, "a", LLAMA);
            loaded(fleet, "b", LLAMA);
            empty(fleet, "c");
            SlotPool pool = pool(fleet, Strategy.LEAST_BUSY);

            Lease first = pool.tryAcquire(ticket("x"));
            Lease second = pool.tryAcquire(ticket("x"));

            assertThat(hostOf(first)).as("config order among idle able hosts, loaded or not").isEqualTo("a");
            assertThat(hostLease(first).reason()).isEqualTo("least_busy");
            assertThat(hostOf(second)).isEqualTo("b");
            assertThat(pool.inFlight("c")).as("still only able hosts").isZero();
        }

        @Test
        void leastBusyPrefersFewerInFlightPerWeightThenRotatesByWeight() {
            Fleet fleet = fleet(host("a", 3, 1), host("b", 3, 2));
            SlotPool pool = pool(fleet, Strategy.LEAST_BUSY);

            List<String> chosen = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                chosen.add(hostOf(pool.tryAcquire(ticket("x"))));
            }

            assertThat(chosen).containsExactly("b", "a", "b", "a");
        }
    }

    /** Weight splits traffic among equally preferred hosts, under every strategy. */
    @Nested
    class Weight {
        /** {@code requests} sequential requests (each released before the next): the count per host. */
        private Map<String, Integer> sequential(SlotPool pool, int requests) {
            Map<String, Integer> counts = new HashMap<>();
            for (int i = 0; i < requests; i++) {
                Lease lease = pool.tryAcquire(ticket("x"));
                counts.merge(hostOf(lease), 1, Integer::sum);
                lease.release();
            }
            return counts;
        }

        @Test
        void sequentialRequestsSplitTwoToOneUnderEveryStrategy() {
            for (Strategy strategy : Strategy.values()) {
                Fleet fleet = fleet(host("a", 2, 2), host("b", 2, 1));
                installed(fleet, "a", LLAMA);
                installed(fleet, "b", LLAMA);

                assertThat(sequential(pool(fleet, strategy), 300)).as(strategy.name())
                        .containsExactlyInAnyOrderEntriesOf(Map.of("a", 200, "b", 100));
            }
        }

        @Test
        void equalWeightsSplitEvenlyUnderEveryStrategy() {
            for (Strategy strategy : Strategy.values()) {
                Fleet fleet = fleet(host("a", 2, 1), host("b", 2, 1));

                assertThat(sequential(pool(fleet, strategy), 300)).as(strategy.name())
                        .containsExactlyInAnyOrderEntriesOf(Map.of("a", 150, "b", 150));
            }
        }

        @Test
        void modelAwareSplitsByWeightOnlyAmongHostsWithTheModelEquallyLoaded() {
            Fleet fleet = fleet(host("a", 2, 1), host("b", 2, 3), host("c", 2, 1), host("d", 2, 5));
            loaded(fleet, "a", LLAMA);
            loaded(fleet, "b", LLAMA);
            installed(fleet, "c", LLAMA);
            empty(fleet, "d");

            assertThat(sequential(modelAware(fleet), 400)).as("c has it on disk only, d not at all")
                    .containsExactlyInAnyOrderEntriesOf(Map.of("a", 100, "b", 300));
        }

        @Test
        void leastBusyCountsRequestsInFlightPerUnitOfWeight() {
            Fleet fleet = fleet(host("a", 10, 1), host("b", 10, 2));
            SlotPool pool = pool(fleet, Strategy.LEAST_BUSY);

            for (int i = 0; i < 9; i++) {
                pool.tryAcquire(ticket("x"));
            }

            assertThat(pool.inFlight("b")).as("b holds twice a's requests, one per unit of weight each").isEqualTo(6);
            assertThat(pool.inFlight("a")).isEqualTo(3);
        }

        @Test
        void aFullHostLeavesTheRotationToTheOthersAndRejoinsWhenFree() {
            Fleet fleet = fleet(host("a", 1, 2), host("b", 4, 1));
            SlotPool pool = pool(fleet, Strategy.ROUND_ROBIN);

            Lease first = pool.tryAcquire(ticket("x"));
            assertThat(hostOf(first)).isEqualTo("a");
            assertThat(hostOf(pool.tryAcquire(ticket("x")))).as("a full").isEqualTo("b");
            assertThat(hostOf(pool.tryAcquire(ticket("x")))).isEqualTo("b");
            first.release();
            assertThat(sequential(pool, 30)).as("a free again: its share again")
                    .containsExactlyInAnyOrderEntriesOf(Map.of("a", 20, "b", 10));
        }
    }

    /** pick, which takes no slot. */
    @Nested
    class Pick {
        @Test
        void pickIgnoresSlotsAndTakesNone() {
            Fleet fleet = fleet(host("a", 1, 1), host("b", 1, 1));
            loaded(fleet, "a", LLAMA);
            installed(fleet, "b", LLAMA);
            SlotPool pool = modelAware(fleet);
            Lease full = pool.tryAcquire(ticket("x"));
            assertThat(hostOf(full)).isEqualTo("a");

            SlotPool.Choice choice = pool.pick(LLAMA, Set.of());

            assertThat(choice.host().name()).as("a is full, but pick needs no slot").isEqualTo("a");
            assertThat(choice.reason()).isEqualTo("loaded");
            assertThat(choice.cold(LLAMA)).isFalse();
            SlotPool.Choice other = pool.pick(LLAMA, Set.of("a"));
            assertThat(other.host().name()).isEqualTo("b");
            assertThat(other.cold(LLAMA)).isTrue();
            assertThat(pool.pick(LLAMA, Set.of("a", "b"))).isNull();
            assertThat(pool.inFlight()).isEqualTo(1);
            assertThat(pool.inFlight("b")).isZero();
        }
    }

    /** Failover of a lease to an untried host. */
    @Nested
    class Failover {
        @Test
        void failoverMovesTheHostSlotToAnUntriedHost() {
            Fleet fleet = fleet(host("a", 1, 1), host("b", 1, 1), host("c", 1, 1), host("d", 1, 1));
            loaded(fleet, "a", LLAMA);
            loaded(fleet, "b", LLAMA);
            installed(fleet, "c", LLAMA);
            empty(fleet, "d");
            SlotPool pool = new SlotPool(fleet, RoutingConfig.DEFAULT, 0, id -> 0);
            Lease lease = pool.tryAcquire(ticket("x"));
            Lease busy = pool.tryAcquire(ticket("y"));
            assertThat(hostOf(lease)).isEqualTo("a");
            assertThat(hostOf(busy)).isEqualTo("b");

            Host next = hostLease(lease).failover(Set.of("a"));

            assertThat(next.name()).as("a free able host first, even if a full one is better").isEqualTo("c");
            assertThat(hostOf(lease)).isEqualTo("c");
            assertThat(pool.inFlight("a")).isZero();
            assertThat(pool.inFlight("c")).isEqualTo(1);
            assertThat(pool.inFlight("d")).isZero();
            assertThat(pool.inFlight()).as("global slots stay").isEqualTo(2);
            assertThat(pool.clientInFlight("x")).as("client slots stay").isEqualTo(1);
            assertThat(hostOf(pool.tryAcquire(ticket("z")))).as("a's slot was given back").isEqualTo("a");
        }

        @Test
        void failoverOverCommitsWhenEveryOtherHostIsFull() {
            Fleet fleet = fleet(host("a", 1, 1), host("b", 1, 1), host("c", 4, 1));
            loaded(fleet, "a", LLAMA);
            installed(fleet, "b", LLAMA);
            empty(fleet, "c");
            SlotPool pool = modelAware(fleet);
            Lease lease = pool.tryAcquire(ticket("x"));
            Lease other = pool.tryAcquire(ticket("y"));
            assertThat(hostOf(lease)).isEqualTo("a");
            assertThat(hostOf(other)).isEqualTo("b");

            Host next = hostLease(lease).failover(Set.of("a"));

            assertThat(next.name()).as("over-commit the able host rather than spill to c").isEqualTo("b");
            assertThat(pool.inFlight("b")).isEqualTo(2);
            assertThat(pool.inFlight("a")).isZero();
            assertThat(pool.inFlight("c")).isZero();
            assertThat(pool.inFlight()).isEqualTo(2);
        }

        @Test
        void failoverNeverFallsBackToAHostWithoutAModelThatTheFailedHostHas() {
            Fleet fleet = fleet(host("a", 1, 1), host("b", 1, 1));
            loaded(fleet, "a", LLAMA);
            empty(fleet, "b");
            SlotPool pool = modelAware(fleet);
            Lease lease = pool.tryAcquire(ticket("x"));

            assertThat(hostLease(lease).failover(Set.of("a"))).as("b would answer not found: exhausted").isNull();
            assertThat(pool.inFlight("b")).isZero();
        }

        @Test
        void failoverFallsBackToAnyUsableHostForAModelNoHostLists() {
            Fleet fleet = fleet(host("a", 1, 1), host("b", 1, 1));
            empty(fleet, "a");
            empty(fleet, "b");
            SlotPool pool = modelAware(fleet);
            Lease lease = pool.tryAcquire(ticket("x"));
            assertThat(hostOf(lease)).isEqualTo("a");

            assertThat(hostLease(lease).failover(Set.of("a")).name()).isEqualTo("b");
            assertThat(pool.inFlight("b")).isEqualTo(1);
        }

        @Test
        void failoverSkipsUnhealthyHosts() {
            Fleet fleet = fleet(host("a", 1, 1), host("b", 1, 1), host("c", 1, 1));
            for (String h : List.of("a", "b", "c")) {
                installed(fleet, h, LLAMA);
            }
            SlotPool pool = modelAware(fleet);
            Lease lease = pool.tryAcquire(ticket("x"));
            assertThat(hostOf(lease)).isEqualTo("a");
            fleet.markUnhealthy(fleet.host("b"), false, "could not connect");

            assertThat(hostLease(lease).failover(Set.of("a")).name()).isEqualTo("c");
        }

        @Test
        void failoverExhaustedReturnsNull() {
            Fleet fleet = fleet(host("a", 1, 1), host("b", 1, 1), host("c", 1, 1));
            SlotPool pool = modelAware(fleet);
            Lease lease = pool.tryAcquire(ticket("x"));
            assertThat(hostOf(lease)).isEqualTo("a");
            fleet.markUnhealthy(fleet.host("c"), true, "down");

            assertThat(hostLease(lease).failover(Set.of("a", "b"))).isNull();

            assertThat(hostOf(lease)).as("the lease is unchanged").isEqualTo("a");
            assertThat(pool.inFlight("a")).isEqualTo(1);
            assertThat(pool.inFlight()).isEqualTo(1);
            lease.release();
            assertThat(hostLease(lease).failover(Set.of("a"))).as("a released lease does not move").isNull();
            assertThat(pool.inFlight("b")).isZero();
            assertThat(pool.inFlight()).isZero();
        }

        @Test
        void releaseAfterFailoverFreesTheNewHost() {
            Fleet fleet = fleet(host("a", 1, 1), host("b", 1, 1));
            SlotPool pool = new SlotPool(fleet, RoutingConfig.DEFAULT, 0, id -> 1);
            Lease lease = pool.tryAcquire(ticket("x"));
            assertThat(hostLease(lease).failover(Set.of("a")).name()).isEqualTo("b");

            lease.release();
            lease.release();

            assertThat(pool.inFlight()).isZero();
            assertThat(pool.inFlight("a")).isZero();
            assertThat(pool.inFlight("b")).isZero();
            assertThat(pool.clientInFlight("x")).isZero();
            assertThat(pool.clientsInFlight()).isEmpty();
            assertThat(pool.tryAcquire(ticket("x"))).isNotNull();
            assertThat(pool.tryAcquire(ticket("y"))).isNotNull();
            assertThat(pool.tryAcquire(ticket("z"))).as("two slots, each taken once").isNull();
        }
    }

    /** Host slots, the global cap, client caps and leases. */
    @Nested
    class CapsAndLeases {
        @Test
        void hostSlotsTheGlobalCapAndClientCapsAllBound() {
            SlotPool pool = new SlotPool(fleet(host("a", 1, 1), host("b", 1, 1)), RoutingConfig.DEFAULT, 0,
                    id -> id.equals("capped") ? 1 : 0);
            Lease first = pool.tryAcquire(ticket("capped"));
            assertThat(first).isNotNull();
            assertThat(pool.tryAcquire(ticket("capped"))).as("client cap").isNull();
            assertThat(pool.clientInFlight("capped")).isEqualTo(1);
            Lease other = pool.tryAcquire(ticket("free"));
            assertThat(other).isNotNull();
            assertThat(pool.tryAcquire(ticket("free"))).as("host slots").isNull();
            assertThat(pool.globalCap()).as("0 = the sum of host slots").isEqualTo(2);
            assertThat(pool.clientsInFlight()).containsExactlyInAnyOrder("capped", "free");

            SlotPool capped = new SlotPool(fleet(host("a", 4, 1)), RoutingConfig.DEFAULT, 1, id -> 0);
            assertThat(capped.tryAcquire(ticket("x"))).isNotNull();
            assertThat(capped.tryAcquire(ticket("y"))).as("global cap").isNull();
            assertThat(capped.globalCap()).isEqualTo(1);
            assertThat(capped.inFlight("nope")).isZero();
        }

        @Test
        void theSchedulersLeaseUnwrapsToTheHostChosen() {
            SlotPool pool = new SlotPool(fleet(host("gpu-1", 1, 1)), RoutingConfig.DEFAULT, 0, id -> 0);
            Scheduler scheduler = scheduler(pool);
            AtomicReference<Lease> granted = new AtomicReference<>();
            Ticket ticket = new Ticket("x", Tier.NORMAL, 10, LLAMA, onDispatch(granted::set));

            assertThat(scheduler.submit(ticket)).isEqualTo(Admission.DISPATCHED);
            assertThat(hostOf(granted.get())).isEqualTo("gpu-1");
            granted.get().release();
            assertThat(pool.inFlight()).isZero();
        }

        @Test
        void releaseIsIdempotentAndFreesEverySlot() {
            SlotPool pool = new SlotPool(fleet(host("a", 1, 1)), RoutingConfig.DEFAULT, 0, id -> 1);
            Lease lease = pool.tryAcquire(ticket("x"));
            lease.release();
            lease.release();
            assertThat(pool.inFlight()).isZero();
            assertThat(pool.inFlight("a")).isZero();
            assertThat(pool.clientInFlight("x")).isZero();
            assertThat(pool.tryAcquire(ticket("x"))).isNotNull();
            assertThat(pool.tryAcquire(ticket("y"))).as("one slot, taken once").isNull();
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void aShareRunsEveryCapDividedByTheReplicasWithAtLeastOneSlotPerHost() {
        Fleet fleet = fleet(host("big", 6, 1), host("small", 1, 1));
        installed(fleet, "big", LLAMA);
        installed(fleet, "small", MISTRAL);
        SlotPool pool = new SlotPool(fleet, new RoutingConfig(Strategy.MODEL_AWARE, Fallback.ANY_HEALTHY, true), 0,
                id -> id.equals("capped") ? 4 : 0);
        pool.share(3);
        List<Lease> leases = new java.util.ArrayList<>();
        Lease l;
        while ((l = pool.tryAcquire(ticket("free"))) != null) {
            leases.add(l);
        }
        assertThat(leases).as("6 / 3 slots of big (and the global cap 7 / 3 = 2)").hasSize(2);
        leases.forEach(Lease::release);
        Lease small = pool.tryAcquire(ticket("free", MISTRAL));
        assertThat(small).as("1 / 3 rounds up to one slot of small").isNotNull();
        assertThat(pool.tryAcquire(ticket("free", MISTRAL))).isNull();
        small.release();
        assertThat(pool.tryAcquire(ticket("capped"))).isNotNull();
        assertThat(pool.tryAcquire(ticket("capped"))).as("client cap 4 / 3 = 1").isNull();
        pool.share(1);
        assertThat(pool.tryAcquire(ticket("capped"))).as("whole caps again").isNotNull();
    }

    @Test
    @SuppressWarnings("unchecked")
    void takeUsesTheNamedHostWithoutACapCheckAndAbleListsHostsInPreferenceOrder() {
        Fleet fleet = fleet(host("a", 1, 1), host("b", 1, 1));
        installed(fleet, "a", LLAMA);
        loaded(fleet, "b", LLAMA);
        SlotPool pool = modelAware(fleet);
        assertThat(pool.able(LLAMA)).extracting(c -> c.host().name()).containsExactly("b", "a");
        int[] released = new int[1];
        SlotPool.HostLease one = pool.take(ticket("x"), "a", "installed", () -> released[0]++);
        SlotPool.HostLease two = pool.take(ticket("x"), "a", "installed", () -> released[0]++);
        assertThat(pool.inFlight("a")).isEqualTo(2);
        assertThat(pool.take(ticket("x"), "gone", "installed", () -> { })).isNull();
        one.release();
        one.release();
        two.release();
        assertThat(released[0]).isEqualTo(2);
        assertThat(pool.inFlight()).isZero();
    }
}
