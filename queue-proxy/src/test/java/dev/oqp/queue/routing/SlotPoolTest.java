package dev.oqp.queue.routing;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.util.List;
import java.util.Map;

import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import dev.oqp.common.config.HostConfig;
import dev.oqp.common.config.QueueConfig;
import dev.oqp.common.config.Tier;
import dev.oqp.queue.scheduler.Admission;
import dev.oqp.queue.scheduler.Lease;
import dev.oqp.queue.scheduler.Rejection;
import dev.oqp.queue.scheduler.Scheduler;
import dev.oqp.queue.scheduler.Ticket;
import dev.oqp.queue.scheduler.Ticks;
import org.junit.jupiter.api.Test;

class SlotPoolTest {
    private static HostConfig host(String name, int slots, int weight) {
        return new HostConfig(name, URI.create("http://" + name + ":11434"), slots, weight, Map.of());
    }

    private static Ticket ticket(String client) {
        return new Ticket(client, Tier.NORMAL, 10, "llama3:latest", onDispatch(lease -> { }));
    }

    /** A listener that only cares about the dispatch; any other outcome is a test failure. */
    private static Ticket.Listener onDispatch(Consumer<Lease> dispatched) {
        return new Ticket.Listener() {
            @Override
            public void dispatched(Lease lease, long waitedNanos) {
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

    private static String hostOf(Lease lease) {
        return ((SlotPool.HostLease) lease.unwrap()).host().name();
    }

    @Test
    void leastBusyHostIsChosenThenHigherWeightThenConfigOrder() {
        SlotPool pool = new SlotPool(List.of(host("a", 2, 1), host("b", 2, 3), host("c", 2, 1)), 0, id -> 0);

        assertThat(hostOf(pool.tryAcquire(ticket("x")))).isEqualTo("b");
        assertThat(hostOf(pool.tryAcquire(ticket("x")))).isEqualTo("a");
        assertThat(hostOf(pool.tryAcquire(ticket("x")))).isEqualTo("c");
        assertThat(hostOf(pool.tryAcquire(ticket("x")))).isEqualTo("b");
        assertThat(pool.inFlight()).isEqualTo(4);
    }

    @Test
    void hostSlotsTheGlobalCapAndClientCapsAllBound() {
        SlotPool pool = new SlotPool(List.of(host("a", 1, 1), host("b", 1, 1)), 0, id -> id.equals("capped") ? 1 : 0);
        Lease first = pool.tryAcquire(ticket("capped"));
        assertThat(pool.tryAcquire(ticket("capped"))).as("client cap").isNull();
        Lease other = pool.tryAcquire(ticket("free"));
        assertThat(other).isNotNull();
        assertThat(pool.tryAcquire(ticket("free"))).as("host slots").isNull();

        SlotPool capped = new SlotPool(List.of(host("a", 4, 1)), 1, id -> 0);
        assertThat(capped.tryAcquire(ticket("x"))).isNotNull();
        assertThat(capped.tryAcquire(ticket("y"))).as("global cap").isNull();
        assertThat(capped.globalCap()).isEqualTo(1);
        assertThat(first).isNotNull();
    }

    @Test
    void theSchedulersLeaseUnwrapsToTheHostChosen() {
        SlotPool pool = new SlotPool(List.of(host("gpu-1", 1, 1)), 0, id -> 0);
        Scheduler scheduler = new Scheduler(new QueueConfig(QueueConfig.DEFAULT_HIGH, QueueConfig.DEFAULT_NORMAL,
                QueueConfig.DEFAULT_LOW, 503, QueueConfig.DEFAULT_AGING, QueueConfig.DEFAULT_MAX_QUEUED_BYTES),
                Ticks.SYSTEM, pool);
        AtomicReference<Lease> granted = new AtomicReference<>();
        Ticket ticket = new Ticket("x", Tier.NORMAL, 10, "llama3:latest", onDispatch(granted::set));

        assertThat(scheduler.submit(ticket)).isEqualTo(Admission.DISPATCHED);
        assertThat(hostOf(granted.get())).isEqualTo("gpu-1");
        granted.get().release();
        assertThat(pool.inFlight()).isZero();
    }

    @Test
    void releaseIsIdempotentAndFreesEverySlot() {
        SlotPool pool = new SlotPool(List.of(host("a", 1, 1)), 0, id -> 1);
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
