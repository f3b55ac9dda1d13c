package dev.oqp.queue.routing;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import dev.oqp.common.config.HostConfig;
import dev.oqp.common.config.ModelConfig;
import dev.oqp.common.config.QueueConfig;
import dev.oqp.common.config.RoutingConfig;
import dev.oqp.common.config.Tier;
import dev.oqp.queue.scheduler.Admission;
import dev.oqp.queue.scheduler.Grant;
import dev.oqp.queue.scheduler.Lease;
import dev.oqp.queue.scheduler.Rejection;
import dev.oqp.queue.scheduler.Scheduler;
import dev.oqp.queue.scheduler.Ticket;
import dev.oqp.queue.scheduler.Ticks;
import org.junit.jupiter.api.Test;

/** Per-(host, model) caps in the slot pool and its scheduler: a host full for one model only. */
class ModelCapsTest {
    private static final String BIG = "llama3.3:70b";
    private static final String SMALL = "llama3:latest";

    private static HostConfig host(String name, int slots, Map<String, ModelConfig> models) {
        return new HostConfig(name, URI.create("http://" + name + ":11434"), slots, 1, Map.of(), models, List.of());
    }

    private static void loaded(Fleet fleet, String host, String... models) {
        Map<String, Host.Loaded> inMemory = new HashMap<>();
        for (String model : models) {
            inMemory.put(model, new Host.Loaded(model, null, 0));
        }
        fleet.inventory(fleet.host(host), new Host.Inventory(Set.of(models), inMemory, Instant.now()));
    }

    private static SlotPool pool(Fleet fleet) {
        return new SlotPool(fleet, RoutingConfig.DEFAULT, 0, id -> 0);
    }

    @SuppressWarnings({"rawtypes", "unchecked"})
    private static Ticket ticket(String client, String model, List<String> log) {
        return new Ticket(client, Tier.NORMAL, 10, model, new Ticket.Listener() {
            @Override
            public void dispatched(Grant lease, long waitedNanos) {
                log.add(model + "@" + ((SlotPool.HostLease) lease.lease()).host().name());
                leases.add(lease);
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
        });
    }

    private static final List<Lease> leases = new ArrayList<>();

    @Test
    @SuppressWarnings({"rawtypes", "unchecked"})
    void aModelAtItsCapWaitsWhileOtherModelsKeepTheHostsFreeSlotsAndTheSchedulerSkipsIt() {
        leases.clear();
        Fleet fleet = new Fleet(List.of(host("gpu", 4, Map.of("LLAMA3.3:70b", new ModelConfig(1, false)))));
        loaded(fleet, "gpu", BIG, SMALL);
        SlotPool pool = pool(fleet);
        Scheduler scheduler = new Scheduler(new QueueConfig(QueueConfig.DEFAULT_HIGH, QueueConfig.DEFAULT_NORMAL,
                QueueConfig.DEFAULT_LOW, 503, QueueConfig.DEFAULT_AGING, QueueConfig.DEFAULT_MAX_QUEUED_BYTES),
                Ticks.SYSTEM, pool);
        List<String> log = new ArrayList<>();
        assertThat(scheduler.submit(ticket("x", BIG, log))).isEqualTo(Admission.DISPATCHED);
        // Same client, older in its FIFO: the second big request waits without holding back the small ones.
        assertThat(scheduler.submit(ticket("x", BIG, log))).isEqualTo(Admission.QUEUED);
        assertThat(scheduler.submit(ticket("x", SMALL, log))).isEqualTo(Admission.DISPATCHED);
        assertThat(scheduler.submit(ticket("y", SMALL, log))).isEqualTo(Admission.DISPATCHED);
        assertThat(log).containsExactly(BIG + "@gpu", SMALL + "@gpu", SMALL + "@gpu");
        assertThat(pool.inFlight(fleet.host("gpu"), BIG)).isEqualTo(1);
        assertThat(pool.inFlight("gpu")).isEqualTo(3);
        // The host's last slot: the small model takes it while the big one is at its cap.
        assertThat(scheduler.submit(ticket("z", SMALL, log))).isEqualTo(Admission.DISPATCHED);
        leases.get(0).release();
        // The small one released first: the big waiter's host slot is free, but its model cap too now.
        assertThat(log).hasSize(5).last().isEqualTo(BIG + "@gpu");
        assertThat(pool.inFlight(fleet.host("gpu"), BIG)).isEqualTo(1);
        new ArrayList<>(leases).forEach(Lease::release);
        assertThat(pool.inFlight()).isZero();
        assertThat(pool.modelsInFlight(fleet.host("gpu"))).isEmpty();
    }

    @Test
    void aHostEntryWinsOverTheFleetGlobAndAGlobCapsEveryModelItMatches() {
        Map<String, ModelConfig> globs = new LinkedHashMap<>();
        globs.put("llama3.3:*", new ModelConfig(2, false));
        globs.put("*", new ModelConfig(5, false));
        Fleet fleet = new Fleet(List.of(host("a", 8, Map.of("llama3.3:70b", new ModelConfig(1, true))),
                host("b", 8, Map.of("llama3.3", new ModelConfig(0, true)))), globs);
        ModelRules a = fleet.host("a").rules();
        ModelRules b = fleet.host("b").rules();
        assertThat(a.maxConcurrent(BIG)).isEqualTo(1);
        assertThat(a.maxConcurrent("llama3.3:8b")).isEqualTo(2);
        assertThat(a.maxConcurrent(SMALL)).isEqualTo(5);
        assertThat(b.maxConcurrent("llama3.3:latest")).as("0 in a host entry: the glob's cap").isEqualTo(2);
        assertThat(a.pinned(BIG)).isTrue();
        assertThat(a.pinned("llama3.3:8b")).isFalse();
        assertThat(b.warm()).containsExactly("llama3.3");
        assertThat(new Fleet(List.of(host("c", 1, Map.of()))).host("c").rules().maxConcurrent(BIG)).isZero();
    }

    @Test
    void failoverPrefersAHostBelowTheModelsCapAndOverCommitsOnlyWhenNoneIsLeft() {
        Map<String, ModelConfig> one = Map.of(BIG, new ModelConfig(1, false));
        Fleet fleet = new Fleet(List.of(host("a", 4, one), host("b", 4, one), host("c", 4, one)));
        loaded(fleet, "a", BIG);
        loaded(fleet, "b", BIG);
        loaded(fleet, "c", BIG);
        SlotPool pool = pool(fleet);
        List<String> log = new ArrayList<>();
        SlotPool.HostLease first = pool.tryAcquire(ticket("x", BIG, log));
        SlotPool.HostLease second = pool.tryAcquire(ticket("y", BIG, log));
        assertThat(List.of(first.host().name(), second.host().name())).containsExactlyInAnyOrder("a", "b");
        String firstHost = first.host().name();
        Host next = first.failover(Set.of(firstHost));
        assertThat(next.name()).as("the host below its cap for the model").isEqualTo("c");
        assertThat(pool.inFlight(fleet.host("c"), BIG)).isEqualTo(1);
        assertThat(pool.inFlight(fleet.host(firstHost), BIG)).isZero();
        // Only the second request's host is left, at its cap for the model: over-committed rather than failed.
        Host again = first.failover(Set.of(firstHost, "c"));
        assertThat(again).isSameAs(second.host());
        assertThat(pool.inFlight(again, BIG)).isEqualTo(2);
        assertThat(pool.inFlight(fleet.host("c"), BIG)).isZero();
        first.release();
        second.release();
        assertThat(pool.inFlight()).isZero();
        for (Host h : fleet.hosts()) {
            assertThat(pool.inFlight(h, BIG)).isZero();
        }
    }
}
