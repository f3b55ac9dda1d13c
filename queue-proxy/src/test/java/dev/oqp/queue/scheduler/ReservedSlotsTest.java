package dev.oqp.queue.scheduler;

import static dev.oqp.common.config.Tier.HIGH;
import static dev.oqp.common.config.Tier.LOW;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import dev.oqp.common.config.QueueConfig;
import dev.oqp.common.config.Tier;
import dev.oqp.common.config.TierConfig;
import org.junit.jupiter.api.Test;

/** Reserved slots in the scheduler: which tickets take the last slots of a capacity, and when a reserve comes back. */
class ReservedSlotsTest {
    private final FakeTicks ticks = new FakeTicks();
    private final Recorder rec = new Recorder();

    private static TierConfig tier(int reserved, int borrow) {
        return new TierConfig(100, Duration.ofSeconds(600), 80, reserved, borrow);
    }

    private static QueueConfig config(TierConfig high, Duration aging) {
        return new QueueConfig(high, tier(0, 0), tier(0, 0), 503, aging, 512L << 20);
    }

    private List<Recorder.Entry> submit(Scheduler s, String prefix, String client, Tier tier, int n) {
        List<Recorder.Entry> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Recorder.Entry e = rec.ticket(prefix + i, client, tier);
            s.submit(e.ticket);
            out.add(e);
        }
        return out;
    }

    /** The scheduler's reserves, typed (the tests' scheduler is raw). */
    private static List<Reserve> reserves(Scheduler<?> s) {
        return s.reserves();
    }

    private static long dispatched(List<Recorder.Entry> entries) {
        return entries.stream().filter(e -> e.lease != null).count();
    }

    private static void releaseAll(List<Recorder.Entry> entries) {
        for (Recorder.Entry e : entries) {
            if (e.lease != null) {
                e.release();
            }
        }
    }

    @Test
    void aReservedSlotNeverLentStaysFreeForHighWhileLowWaits() {
        FakeCapacity capacity = new FakeCapacity(4).reportingSlots();
        Scheduler s = new Scheduler(config(tier(1, 0), Duration.ZERO), ticks, capacity);
        List<Recorder.Entry> lows = submit(s, "low", "batch", LOW, 6);
        assertThat(dispatched(lows)).isEqualTo(3);
        assertThat(s.snapshot().depth()).containsEntry(LOW, 3);
        assertThat(reserves(s).get(0)).isEqualTo(new Reserve(HIGH, 1, 0, 0));

        Recorder.Entry high = submit(s, "high", "chat", HIGH, 1).get(0);
        assertThat(high.outcome()).as("the reserved slot was free").isEqualTo("dispatched");
        assertThat(capacity.used()).isEqualTo(4);

        high.release();
        assertThat(dispatched(lows)).as("the reserve is back, not given to low").isEqualTo(3);
        assertThat(capacity.used()).isEqualTo(3);
        lows.get(0).release();
        assertThat(dispatched(lows)).isEqualTo(4);
    }

    @Test
    void withNothingHighWaitingLowBorrowsUpToBorrowAndTheReserveIsRestoredAtTheNextRelease() {
        FakeCapacity capacity = new FakeCapacity(4).reportingSlots();
        Scheduler s = new Scheduler(config(tier(2, 1), Duration.ZERO), ticks, capacity);
        List<Recorder.Entry> lows = submit(s, "low", "batch", LOW, 6);
        assertThat(dispatched(lows)).as("2 unreserved slots + 1 borrowed").isEqualTo(3);
        assertThat(reserves(s).get(0)).isEqualTo(new Reserve(HIGH, 2, 1, 1));

        // A borrowed slot released goes back to the reserve and, with nothing high waiting, is lent again (once).
        lows.get(0).release();
        assertThat(dispatched(lows)).isEqualTo(4);
        assertThat(capacity.used()).isEqualTo(3);
        assertThat(reserves(s).get(0).borrowed()).isEqualTo(1);

        // High arrives: the reserve's free slot is its at once; the next release is kept for the second high.
        List<Recorder.Entry> highs = submit(s, "high", "chat", HIGH, 2);
        assertThat(highs.get(0).outcome()).isEqualTo("dispatched");
        assertThat(highs.get(1).outcome()).isEqualTo("none");
        lows.get(1).release();
        assertThat(highs.get(1).outcome()).isEqualTo("dispatched");
        assertThat(reserves(s).get(0).borrowed()).as("high uses both reserved slots itself").isZero();

        highs.get(0).release();
        highs.get(1).release();
        assertThat(dispatched(lows)).as("both reserved slots free again: low borrows one of them, no more")
                .isEqualTo(5);
        assertThat(capacity.used()).isEqualTo(3);
        releaseAll(lows);
        assertThat(capacity.used()).isZero();
        assertThat(s.snapshot().inFlight()).isZero();
        assertThat(reserves(s).get(0).borrowed()).isZero();
    }

    @Test
    void aPausedTiersWaitingTicketsDoNotHoldItsReserve() {
        FakeCapacity capacity = new FakeCapacity(2).reportingSlots();
        Scheduler s = new Scheduler(config(tier(1, 1), Duration.ZERO), ticks, capacity);
        s.pause(HIGH);
        Recorder.Entry high = submit(s, "high", "chat", HIGH, 1).get(0);
        List<Recorder.Entry> lows = submit(s, "low", "batch", LOW, 2);
        assertThat(high.outcome()).isEqualTo("none");
        assertThat(dispatched(lows)).as("paused high waits for nothing: its slot is lent").isEqualTo(2);
    }

    @Test
    void anAgedLowTicketDoesNotTakeTheSlotReservedForARequestedHighOne() {
        FakeCapacity capacity = new FakeCapacity(2).reportingSlots();
        Scheduler s = new Scheduler(config(tier(1, 0), Duration.ofSeconds(1)), ticks, capacity);
        List<Recorder.Entry> lows = submit(s, "low", "batch", LOW, 3);
        assertThat(dispatched(lows)).isEqualTo(1);
        ticks.advance(Duration.ofSeconds(5));
        // The waiting lows are high by aging now, and older than the high ticket; the reserve is by requested tier.
        Recorder.Entry high = submit(s, "high", "chat", HIGH, 1).get(0);
        assertThat(high.outcome()).isEqualTo("dispatched");
        assertThat(dispatched(lows)).isEqualTo(1);
    }

    @Test
    void aClientsMinSlotsGoToItsWaitingRequestBeforeOtherClientsHigherTierOnes() {
        FakeCapacity capacity = new FakeCapacity(3).reportingSlots();
        Scheduler s = new Scheduler(config(tier(0, 0), Duration.ZERO), ticks, capacity);
        s.minSlots(Map.of("chat", 1));
        List<Recorder.Entry> batch = submit(s, "batch", "batch", HIGH, 5);
        assertThat(dispatched(batch)).as("chat waits for nothing: its slot is lent in full").isEqualTo(3);

        Recorder.Entry chat = submit(s, "chat", "chat", LOW, 1).get(0);
        assertThat(chat.outcome()).isEqualTo("none");
        batch.get(0).release();
        assertThat(chat.outcome()).as("the next release is chat's, though batch's waiting tickets are high")
                .isEqualTo("dispatched");
        assertThat(dispatched(batch)).isEqualTo(3);

        Recorder.Entry chat2 = submit(s, "chat2-", "chat", LOW, 1).get(0);
        batch.get(1).release();
        assertThat(chat2.outcome()).as("chat's guarantee is met by the one it runs: high batch goes first")
                .isEqualTo("none");
        assertThat(dispatched(batch)).isEqualTo(4);
        releaseAll(batch);
        releaseAll(List.of(chat, chat2));
        assertThat(dispatched(batch)).isEqualTo(5);
        assertThat(chat2.lease).isNotNull();
        assertThat(capacity.used()).isZero();
    }

    @Test
    void theDefaultsKeepNothingAndLowTakesTheLastSlot() {
        FakeCapacity capacity = new FakeCapacity(2).reportingSlots();
        Scheduler s = new Scheduler(config(tier(0, 0), Duration.ZERO), ticks, capacity);
        assertThat(dispatched(submit(s, "low", "batch", LOW, 3))).isEqualTo(2);
        assertThat(reserves(s)).extracting(Reserve::reserved).containsOnly(0);
    }

    @Test
    void aReloadChangesTheReservesOfTheNextDecisions() {
        FakeCapacity capacity = new FakeCapacity(2).reportingSlots();
        Scheduler s = new Scheduler(config(tier(1, 0), Duration.ZERO), ticks, capacity);
        List<Recorder.Entry> lows = submit(s, "low", "batch", LOW, 3);
        assertThat(dispatched(lows)).isEqualTo(1);
        s.reconfigure(config(tier(0, 0), Duration.ZERO));
        s.capacityChanged();
        assertThat(dispatched(lows)).isEqualTo(2);
        assertThat(reserves(s).get(0).reserved()).isZero();
        s.minSlots(Map.of("other", 1));
        releaseAll(lows);
        assertThat(dispatched(lows)).as("other waits for nothing").isEqualTo(3);
        releaseAll(lows);
        assertThat(capacity.used()).isZero();
    }
}
