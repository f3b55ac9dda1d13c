package dev.oqp.queue.scheduler;

import static dev.oqp.common.config.Tier.HIGH;
import static dev.oqp.common.config.Tier.LOW;
import static dev.oqp.common.config.Tier.NORMAL;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import dev.oqp.common.config.QueueConfig;
import dev.oqp.common.config.Tier;
import dev.oqp.common.config.TierConfig;
import org.junit.jupiter.api.Test;

class SchedulerTest {

    private static final TierConfig HIGH_TIER = new TierConfig(50, Duration.ofSeconds(120));
    private static final TierConfig NORMAL_TIER = new TierConfig(100, Duration.ofSeconds(300));
    private static final TierConfig LOW_TIER = new TierConfig(200, Duration.ofSeconds(600));

    private final FakeTicks ticks = new FakeTicks();
    private final Recorder rec = new Recorder();

    private static QueueConfig config(Duration aging) {
        return new QueueConfig(HIGH_TIER, NORMAL_TIER, LOW_TIER, 503, aging, 512L << 20);
    }

    private static QueueConfig strict() {
        return config(Duration.ZERO);
    }

    /** Submits a ticket on client "busy" that takes the only free slot. */
    private Recorder.Entry occupy(Scheduler s) {
        Recorder.Entry busy = rec.ticket("busy", "busy", HIGH);
        assertThat(s.submit(busy.ticket)).isEqualTo(Admission.DISPATCHED);
        return busy;
    }

    private Recorder.Entry submit(Scheduler s, String name, String client, Tier tier) {
        Recorder.Entry e = rec.ticket(name, client, tier);
        s.submit(e.ticket);
        return e;
    }

    /** Releases the lease of whatever was dispatched last, repeatedly, until nothing more is dispatched. */
    private void releaseInTurn(List<Recorder.Entry> all) {
        for (int i = 0; i < 100; i++) {
            boolean any = false;
            for (Recorder.Entry e : all) {
                if (e.lease != null && e.outcomes.size() == 1 && !e.outcomes.contains("released")) {
                    e.outcomes.add("released");
                    e.release();
                    any = true;
                    break;
                }
            }
            if (!any) {
                return;
            }
        }
    }

    @Test
    void highIsDispatchedBeforeEarlierQueuedNormalAndLow() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s);
        Recorder.Entry low = submit(s, "low", "a", LOW);
        Recorder.Entry normal = submit(s, "normal", "b", NORMAL);
        Recorder.Entry high = submit(s, "high", "c", HIGH);
        assertThat(List.of(low, normal, high)).allSatisfy(e -> assertThat(e.outcome()).isEqualTo("none"));

        releaseInTurn(List.of(busy, low, normal, high));

        assertThat(rec.dispatchOrder).containsExactly("busy", "high", "normal", "low");
    }

    @Test
    void clientCappedAtOneNeverHoldsTwoLeasesAndAnotherClientIsServedAsSoonAsASlotFrees() {
        FakeCapacity capacity = new FakeCapacity(2).cap("a", 1);
        Scheduler s = new Scheduler(strict(), ticks, capacity);
        List<Recorder.Entry> as = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            as.add(submit(s, "a" + i, "a", NORMAL));
        }
        assertThat(rec.dispatchOrder).containsExactly("a0");
        assertThat(s.snapshot().queuedPerClient()).containsEntry("a", 9);

        Recorder.Entry b0 = submit(s, "b0", "b", NORMAL);
        assertThat(b0.outcome()).as("the capped client holds no slot, so b runs at once").isEqualTo("dispatched");
        Recorder.Entry b1 = submit(s, "b1", "b", NORMAL);
        assertThat(b1.outcome()).isEqualTo("none");

        b0.release();
        assertThat(b1.outcome()).as("a is capped and skipped; b gets the freed slot").isEqualTo("dispatched");
        assertThat(capacity.inUse("a")).isEqualTo(1);

        b1.release();
        for (Recorder.Entry a : as) {
            assertThat(a.outcome()).isEqualTo("dispatched");
            assertThat(capacity.inUse("a")).isEqualTo(1);
            a.release();
        }
        assertThat(capacity.maxPerClientSeen()).isEqualTo(1);
        assertThat(capacity.used()).isZero();
        assertThat(s.snapshot().inFlight()).isZero();
    }

    @Test
    void twoClientsInOneTierAlternate() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s);
        List<Recorder.Entry> all = new ArrayList<>(List.of(busy));
        for (int i = 1; i <= 3; i++) {
            all.add(submit(s, "a" + i, "a", NORMAL));
        }
        for (int i = 1; i <= 3; i++) {
            all.add(submit(s, "b" + i, "b", NORMAL));
        }

        releaseInTurn(all);

        assertThat(rec.dispatchOrder).containsExactly("busy", "a1", "b1", "a2", "b2", "a3", "b3");
    }

    @Test
    void clientServedLeastRecentlyGoesFirstEvenIfItArrivedLater() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        Recorder.Entry a1 = submit(s, "a1", "a", NORMAL);
        Recorder.Entry a2 = submit(s, "a2", "a", NORMAL);
        Recorder.Entry b1 = submit(s, "b1", "b", NORMAL);

        releaseInTurn(List.of(a1, a2, b1));

        assertThat(rec.dispatchOrder).containsExactly("a1", "b1", "a2");
    }

    @Test
    void agingLiftsAStarvedLowRequestAboveNewerNormalOnesAfterTheInterval() {
        Scheduler s = new Scheduler(config(Duration.ofSeconds(60)), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s);
        Recorder.Entry low = submit(s, "low", "x", LOW);
        ticks.advance(Duration.ofSeconds(60));
        Recorder.Entry n1 = submit(s, "n1", "x", NORMAL);
        Recorder.Entry n2 = submit(s, "n2", "x", NORMAL);

        releaseInTurn(List.of(busy, low, n1, n2));

        assertThat(rec.dispatchOrder).containsExactly("busy", "low", "n1", "n2");
    }

    @Test
    void agingDoesNotLiftBeforeTheIntervalHasPassed() {
        Scheduler s = new Scheduler(config(Duration.ofSeconds(60)), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s);
        Recorder.Entry low = submit(s, "low", "x", LOW);
        ticks.advance(Duration.ofSeconds(59));
        Recorder.Entry n1 = submit(s, "n1", "x", NORMAL);

        releaseInTurn(List.of(busy, low, n1));

        assertThat(rec.dispatchOrder).containsExactly("busy", "n1", "low");
    }

    @Test
    void agingLiftsTwoTiersAfterTwoIntervalsAboveNewerHigh() {
        Scheduler s = new Scheduler(config(Duration.ofSeconds(60)), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s);
        Recorder.Entry low = submit(s, "low", "x", LOW);
        ticks.advance(Duration.ofSeconds(120));
        Recorder.Entry high = submit(s, "high", "x", HIGH);

        releaseInTurn(List.of(busy, low, high));

        assertThat(rec.dispatchOrder).containsExactly("busy", "low", "high");
    }

    @Test
    void agingZeroIsStrictPriorityNoMatterHowLongALowRequestWaits() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s);
        Recorder.Entry low = submit(s, "low", "x", LOW);
        ticks.advance(Duration.ofSeconds(500));
        Recorder.Entry n1 = submit(s, "n1", "x", NORMAL);
        Recorder.Entry n2 = submit(s, "n2", "y", NORMAL);

        releaseInTurn(List.of(busy, low, n1, n2));

        assertThat(rec.dispatchOrder).containsExactly("busy", "n1", "n2", "low");
    }

    @Test
    void aFullTierRejectsWithTheOverflowStatusWhileOtherTiersStillQueue() {
        QueueConfig config = new QueueConfig(HIGH_TIER, new TierConfig(2, Duration.ofSeconds(300)), LOW_TIER, 429,
                Duration.ZERO, 1 << 20);
        Scheduler s = new Scheduler(config, ticks, new FakeCapacity(1));
        occupy(s);
        submit(s, "n1", "a", NORMAL);
        submit(s, "n2", "a", NORMAL);
        Recorder.Entry n3 = rec.ticket("n3", "a", NORMAL);

        assertThat(s.submit(n3.ticket)).isEqualTo(Admission.REJECTED);
        assertThat(n3.outcome()).isEqualTo("rejected");
        assertThat(n3.rejection.reason()).isEqualTo(Rejection.Reason.TIER_FULL);
        assertThat(n3.rejection.statusCode()).isEqualTo(429);
        assertThat(n3.rejection.tier()).isEqualTo(NORMAL);
        assertThat(n3.rejection.retryAfterSeconds()).isGreaterThanOrEqualTo(1);
        assertThat(s.submit(rec.ticket("h", "a", HIGH).ticket)).isEqualTo(Admission.QUEUED);
        assertThat(s.snapshot().depth()).containsEntry(NORMAL, 2).containsEntry(HIGH, 1);
    }

    @Test
    void maxDepthZeroDispatchesAtOnceWhenASlotIsFreeAndRejectsOtherwise() {
        QueueConfig config = new QueueConfig(new TierConfig(0, Duration.ofSeconds(120)), NORMAL_TIER, LOW_TIER,
                503, Duration.ZERO, 1 << 20);
        Scheduler s = new Scheduler(config, ticks, new FakeCapacity(1));
        Recorder.Entry first = rec.ticket("h1", "a", HIGH);
        assertThat(s.submit(first.ticket)).isEqualTo(Admission.DISPATCHED);

        Recorder.Entry second = rec.ticket("h2", "a", HIGH);
        assertThat(s.submit(second.ticket)).isEqualTo(Admission.REJECTED);
        assertThat(second.rejection.reason()).isEqualTo(Rejection.Reason.TIER_FULL);
        assertThat(second.rejection.statusCode()).isEqualTo(503);
        assertThat(s.snapshot().totalDepth()).isZero();
    }

    @Test
    void maxQueuedBytesRejectsABodyThatWouldNotFitButABodyThatRunsAtOnceIsNeverHeld() {
        QueueConfig config = new QueueConfig(HIGH_TIER, NORMAL_TIER, LOW_TIER, 503, Duration.ZERO, 1000);
        Scheduler s = new Scheduler(config, ticks, new FakeCapacity(1));
        Recorder.Entry big = rec.ticket("big", "a", NORMAL, 5000, "m");
        assertThat(s.submit(big.ticket)).isEqualTo(Admission.DISPATCHED);

        assertThat(s.submit(rec.ticket("q1", "a", NORMAL, 600, "m").ticket)).isEqualTo(Admission.QUEUED);
        Recorder.Entry tooMuch = rec.ticket("q2", "b", LOW, 500, "m");
        assertThat(s.submit(tooMuch.ticket)).isEqualTo(Admission.REJECTED);
        assertThat(tooMuch.rejection.reason()).isEqualTo(Rejection.Reason.BYTES_FULL);
        assertThat(s.submit(rec.ticket("q3", "b", HIGH, 400, "m").ticket)).isEqualTo(Admission.QUEUED);
        assertThat(s.snapshot().queuedBytes()).isEqualTo(1000);
    }

    @Test
    void expiryAnswersAtTheDeadlineAndReturnsTheNextDeadline() {
        List<Long> alarms = new ArrayList<>();
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1), alarms::add);
        occupy(s);
        assertThat(s.expireDue()).isEqualTo(-1);
        Recorder.Entry normal = submit(s, "n", "a", NORMAL);
        assertThat(alarms).containsExactly(Duration.ofSeconds(300).toNanos());
        ticks.advance(Duration.ofSeconds(100));
        Recorder.Entry high = submit(s, "h", "a", HIGH);
        assertThat(alarms).as("the high ticket brings the next deadline forward")
                .containsExactly(Duration.ofSeconds(300).toNanos(), Duration.ofSeconds(120).toNanos());

        assertThat(s.expireDue()).isEqualTo(Duration.ofSeconds(120).toNanos());
        ticks.advance(Duration.ofSeconds(120).minusNanos(1));
        assertThat(s.expireDue()).isEqualTo(1);
        assertThat(high.outcome()).isEqualTo("none");

        ticks.advance(Duration.ofNanos(1));
        assertThat(s.expireDue()).isEqualTo(Duration.ofSeconds(80).toNanos());
        assertThat(high.outcome()).isEqualTo("expired");
        assertThat(high.waited).isEqualTo(Duration.ofSeconds(120).toNanos());
        assertThat(normal.outcome()).isEqualTo("none");

        ticks.advance(Duration.ofSeconds(80));
        assertThat(s.expireDue()).isEqualTo(-1);
        assertThat(normal.outcome()).isEqualTo("expired");
        assertThat(s.snapshot().totalDepth()).isZero();
    }

    @Test
    void aTicketPastItsDeadlineIsNeverDispatchedEvenIfTheTimerIsLate() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s);
        Recorder.Entry high = submit(s, "h", "a", HIGH);
        ticks.advance(Duration.ofSeconds(121));

        busy.release();

        assertThat(high.outcome()).isEqualTo("expired");
    }

    @Test
    void retryAfterIsQueuedAheadTimesAverageServiceTimeOverConcurrency() {
        QueueConfig config = new QueueConfig(HIGH_TIER, new TierConfig(4, Duration.ofSeconds(300)), LOW_TIER, 503,
                Duration.ZERO, 1 << 20);
        Scheduler s = new Scheduler(config, ticks, new FakeCapacity(2));
        Recorder.Entry w1 = submit(s, "w1", "w", NORMAL);
        Recorder.Entry w2 = submit(s, "w2", "w", NORMAL);
        ticks.advance(Duration.ofSeconds(10));
        w1.release();
        w2.release();
        occupy(s);
        occupy(s);
        for (int i = 0; i < 4; i++) {
            submit(s, "q" + i, "q", NORMAL);
        }
        Recorder.Entry rejected = submit(s, "r", "r", NORMAL);

        // 4 waiting ahead × 10 s average / 2 in flight = 20 s
        assertThat(rejected.rejection.retryAfterSeconds()).isEqualTo(20);
    }

    @Test
    void cancelRemovesAQueuedTicketAtOnceAndTheNextTicketIsDispatched() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s);
        Recorder.Entry a1 = submit(s, "a1", "a", NORMAL);
        Recorder.Entry a2 = submit(s, "a2", "a", NORMAL);

        assertThat(s.cancel(a1.ticket)).isTrue();
        assertThat(a1.outcome()).isEqualTo("cancelled");
        assertThat(s.snapshot().depth()).containsEntry(NORMAL, 1);
        assertThat(s.cancel(a1.ticket)).isFalse();

        busy.release();
        assertThat(a2.outcome()).isEqualTo("dispatched");
        assertThat(s.cancel(a2.ticket)).as("a dispatched ticket is not cancelled").isFalse();
        assertThat(a1.outcome()).isEqualTo("cancelled");
    }

    @Test
    void releaseIsIdempotentSoADoubleReleaseDoesNotFreeTwoSlots() {
        FakeCapacity capacity = new FakeCapacity(1);
        Scheduler s = new Scheduler(strict(), ticks, capacity);
        Recorder.Entry a = submit(s, "a", "a", NORMAL);
        Recorder.Entry b = submit(s, "b", "b", NORMAL);
        Recorder.Entry c = submit(s, "c", "c", NORMAL);

        a.release();
        a.release();

        assertThat(capacity.leases.get(0).releases).isEqualTo(1);
        assertThat(b.outcome()).isEqualTo("dispatched");
        assertThat(c.outcome()).isEqualTo("none");
        assertThat(capacity.used()).isEqualTo(1);
        assertThat(s.snapshot().inFlight()).isEqualTo(1);
    }

    @Test
    void aListenerThatReleasesOrSubmitsSynchronouslyInsideDispatchedWorks() {
        FakeCapacity capacity = new FakeCapacity(1);
        QueueConfig deep = new QueueConfig(HIGH_TIER, new TierConfig(10_000, Duration.ofSeconds(300)), LOW_TIER,
                503, Duration.ZERO, 1 << 20);
        Scheduler s = new Scheduler(deep, ticks, capacity);
        Recorder.Entry busy = occupy(s);
        List<Recorder.Entry> quick = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            Recorder.Entry e = rec.ticket("q" + i, "c" + (i % 7), NORMAL);
            e.onDispatch = (entry, lease) -> lease.release();
            quick.add(e);
            s.submit(e.ticket);
        }
        Recorder.Entry chained = rec.ticket("chained", "z", LOW);
        Recorder.Entry starter = rec.ticket("starter", "z", HIGH);
        starter.onDispatch = (entry, lease) -> {
            s.submit(chained.ticket);
            lease.release();
        };
        s.submit(starter.ticket);

        busy.release();

        assertThat(quick).allSatisfy(e -> assertThat(e.outcome()).isEqualTo("dispatched"));
        assertThat(starter.outcome()).isEqualTo("dispatched");
        assertThat(chained.outcome()).isEqualTo("dispatched");
        chained.release();
        assertThat(capacity.used()).isZero();
        assertThat(s.snapshot().inFlight()).isZero();
        assertThat(s.snapshot().totalDepth()).isZero();
    }

    @Test
    void aListenerThatThrowsInsideDispatchedHasItsLeaseReleased() {
        FakeCapacity capacity = new FakeCapacity(1);
        Scheduler s = new Scheduler(strict(), ticks, capacity);
        Recorder.Entry bad = rec.ticket("bad", "a", NORMAL);
        bad.onDispatch = (entry, lease) -> {
            throw new IllegalStateException("boom");
        };
        s.submit(bad.ticket);
        assertThat(capacity.used()).isZero();
        assertThat(s.submit(rec.ticket("next", "b", NORMAL).ticket)).isEqualTo(Admission.DISPATCHED);
    }

    @Test
    void aSkippedTicketBlocksNeitherOtherModelsNorOtherClientsButFifoPerClientAndModelHolds() {
        FakeCapacity capacity = new FakeCapacity(3);
        capacity.noHostFor("big", true);
        Scheduler s = new Scheduler(strict(), ticks, capacity);
        Recorder.Entry big1 = rec.ticket("big1", "a", HIGH, 0, "big");
        Recorder.Entry big2 = rec.ticket("big2", "a", HIGH, 0, "big");
        s.submit(big1.ticket);
        s.submit(big2.ticket);
        Recorder.Entry small = rec.ticket("small", "a", NORMAL, 0, "small");
        Recorder.Entry other = rec.ticket("other", "b", LOW, 0, "small");
        assertThat(s.submit(small.ticket)).isEqualTo(Admission.DISPATCHED);
        assertThat(s.submit(other.ticket)).isEqualTo(Admission.DISPATCHED);

        capacity.noHostFor("big", false);
        s.capacityChanged();

        assertThat(rec.dispatchOrder).containsExactly("small", "other", "big1");
        assertThat(big2.outcome()).isEqualTo("none");
    }

    @Test
    void pauseOfAllTiersHoldsDispatchAndResumeOfAllContinuesInOrder() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(2));
        s.pause(null);
        Recorder.Entry a = rec.ticket("a", "a", NORMAL);
        assertThat(s.submit(a.ticket)).isEqualTo(Admission.QUEUED);
        submit(s, "b", "b", HIGH);
        submit(s, "c", "c", LOW);
        s.capacityChanged();
        assertThat(rec.dispatchOrder).isEmpty();
        assertThat(s.snapshot().paused()).containsExactly(HIGH, NORMAL, LOW);

        s.resume(null);

        assertThat(rec.dispatchOrder).containsExactly("b", "a");
        assertThat(s.snapshot().paused()).isEmpty();
    }

    @Test
    void pausingLowKeepsDispatchingHigh() {
        FakeCapacity capacity = new FakeCapacity(3);
        Scheduler s = new Scheduler(strict(), ticks, capacity);
        s.pause(LOW);

        Recorder.Entry low = rec.ticket("low", "a", LOW);
        assertThat(s.submit(low.ticket)).as("slots are free, but LOW is paused").isEqualTo(Admission.QUEUED);
        Recorder.Entry high = rec.ticket("high", "b", HIGH);
        assertThat(s.submit(high.ticket)).isEqualTo(Admission.DISPATCHED);
        Recorder.Entry normal = rec.ticket("normal", "c", NORMAL);
        assertThat(s.submit(normal.ticket)).isEqualTo(Admission.DISPATCHED);

        assertThat(low.outcome()).isEqualTo("none");
        Snapshot snapshot = s.snapshot();
        assertThat(snapshot.paused()).containsExactly(LOW);
        assertThat(snapshot.paused(LOW)).isTrue();
        assertThat(snapshot.paused(HIGH)).isFalse();
        assertThat(snapshot.paused(NORMAL)).isFalse();
        assertThat(snapshot.draining()).isEmpty();
        assertThat(snapshot.depth()).containsEntry(LOW, 1).containsEntry(HIGH, 0).containsEntry(NORMAL, 0);
    }

    @Test
    void aPausedTicketDoesNotHoldBackNewerTicketsOfItsOwnClientAndModel() {
        Scheduler s = new Scheduler(config(Duration.ofSeconds(60)), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s);
        Recorder.Entry low = rec.ticket("low", "a", LOW, 0, "m");
        s.submit(low.ticket);
        ticks.advance(Duration.ofSeconds(60));
        Recorder.Entry normal = rec.ticket("normal", "a", NORMAL, 0, "m");
        s.submit(normal.ticket);
        s.pause(LOW);

        busy.release();

        assertThat(rec.dispatchOrder).as("the low ticket, aged into NORMAL, is ahead in FIFO but paused")
                .containsExactly("busy", "normal");
        assertThat(low.outcome()).isEqualTo("none");
    }

    @Test
    void pausedTicketsAreNeverOfferedToCapacity() {
        FakeCapacity capacity = new FakeCapacity(2);
        capacity.noHostFor("big", true);
        Scheduler s = new Scheduler(strict(), ticks, capacity);
        s.pause(LOW);
        List<Recorder.Entry> lows = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            lows.add(submit(s, "low" + i, "c" + i, LOW));
        }
        // An unpaused ticket nothing can serve keeps every pass scanning down to the LOW tier.
        Recorder.Entry stuck = rec.ticket("stuck", "s", NORMAL, 0, "big");
        assertThat(s.submit(stuck.ticket)).isEqualTo(Admission.QUEUED);
        s.capacityChanged();
        Recorder.Entry normal = submit(s, "n", "n", NORMAL);
        normal.release();

        assertThat(rec.dispatchOrder).containsExactly("n");
        assertThat(lows).allSatisfy(e -> {
            assertThat(e.outcome()).isEqualTo("none");
            assertThat(capacity.wasAskedFor(e.ticket)).isFalse();
        });
        assertThat(capacity.wasAskedFor(stuck.ticket)).isTrue();
        assertThat(capacity.used()).isZero();
        assertThat(s.snapshot().inFlight()).isZero();
    }

    @Test
    void pausedTicketsKeepQueueingWithinTheirTiersLimitsAndKeepExpiring() {
        QueueConfig config = new QueueConfig(HIGH_TIER, new TierConfig(2, Duration.ofSeconds(300)), LOW_TIER, 429,
                Duration.ZERO, 1 << 20);
        List<Long> alarms = new ArrayList<>();
        Scheduler s = new Scheduler(config, ticks, new FakeCapacity(1), alarms::add);
        s.pause(NORMAL);
        Recorder.Entry n1 = rec.ticket("n1", "a", NORMAL);
        Recorder.Entry n2 = rec.ticket("n2", "b", NORMAL);
        Recorder.Entry n3 = rec.ticket("n3", "c", NORMAL);
        assertThat(s.submit(n1.ticket)).isEqualTo(Admission.QUEUED);
        assertThat(s.submit(n2.ticket)).isEqualTo(Admission.QUEUED);
        assertThat(s.submit(n3.ticket)).isEqualTo(Admission.REJECTED);
        assertThat(n3.rejection.reason()).isEqualTo(Rejection.Reason.TIER_FULL);
        assertThat(n3.rejection.statusCode()).isEqualTo(429);
        assertThat(alarms).containsExactly(Duration.ofSeconds(300).toNanos());

        ticks.advance(Duration.ofSeconds(300));

        assertThat(s.expireDue()).isEqualTo(-1);
        assertThat(n1.outcome()).isEqualTo("expired");
        assertThat(n2.outcome()).isEqualTo("expired");
        assertThat(s.snapshot().depth()).containsEntry(NORMAL, 0);
        assertThat(s.snapshot().paused()).containsExactly(NORMAL);
    }

    @Test
    void releaseWhileOneTierPausedDispatchesTheOthers() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s);
        Recorder.Entry high = submit(s, "h", "a", HIGH);
        Recorder.Entry normal = submit(s, "n", "b", NORMAL);
        s.pause(HIGH);

        busy.release();

        assertThat(normal.outcome()).isEqualTo("dispatched");
        assertThat(high.outcome()).isEqualTo("none");
    }

    @Test
    void capacityChangedWhileOneTierPausedDispatchesTheOthers() {
        FakeCapacity capacity = new FakeCapacity(0);
        Scheduler s = new Scheduler(strict(), ticks, capacity);
        Recorder.Entry high = submit(s, "h", "a", HIGH);
        Recorder.Entry low = submit(s, "l", "b", LOW);
        s.pause(HIGH);
        capacity.setSlots(2);

        s.capacityChanged();

        assertThat(low.outcome()).isEqualTo("dispatched");
        assertThat(high.outcome()).isEqualTo("none");
        assertThat(capacity.used()).isEqualTo(1);
    }

    @Test
    void agedTicketStaysPausedByItsRequestedTier() {
        Scheduler s = new Scheduler(config(Duration.ofSeconds(60)), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s);
        Recorder.Entry low = submit(s, "low", "x", LOW);
        ticks.advance(Duration.ofSeconds(120));
        Recorder.Entry normal = submit(s, "n", "y", NORMAL);
        s.pause(LOW);

        busy.release();
        assertThat(rec.dispatchOrder).as("unpaused, the low ticket aged into HIGH would go before n")
                .containsExactly("busy", "n");
        normal.release();
        assertThat(low.outcome()).isEqualTo("none");

        s.resume(LOW);
        assertThat(low.outcome()).isEqualTo("dispatched");
    }

    @Test
    void pausingHighDoesNotHoldALowTicketAgedIntoHigh() {
        Scheduler s = new Scheduler(config(Duration.ofSeconds(60)), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s);
        Recorder.Entry low = submit(s, "low", "x", LOW);
        ticks.advance(Duration.ofSeconds(120));
        s.pause(HIGH);
        Recorder.Entry high = submit(s, "h", "y", HIGH);

        busy.release();

        assertThat(low.outcome()).isEqualTo("dispatched");
        assertThat(high.outcome()).isEqualTo("none");
    }

    @Test
    void drainOfAllTiersRejectsNewTicketsAndKeepsDispatchingQueuedOnes() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s);
        Recorder.Entry queued = submit(s, "q", "a", NORMAL);

        s.drain(null);
        for (Tier tier : Tier.values()) {
            Recorder.Entry late = rec.ticket("late-" + tier, "a", tier);
            assertThat(s.submit(late.ticket)).isEqualTo(Admission.REJECTED);
            assertThat(late.rejection.reason()).isEqualTo(Rejection.Reason.DRAINING);
            assertThat(late.rejection.statusCode()).isEqualTo(503);
            assertThat(late.rejection.tier()).isEqualTo(tier);
        }
        assertThat(s.snapshot().draining()).containsExactly(HIGH, NORMAL, LOW);

        busy.release();
        assertThat(queued.outcome()).isEqualTo("dispatched");
        queued.release();
        assertThat(s.snapshot().totalDepth()).isZero();
        assertThat(s.snapshot().inFlight()).isZero();
    }

    @Test
    void drainingOneTierRejectsOnlyThatTier() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s);
        Recorder.Entry queuedLow = submit(s, "queued-low", "a", LOW);

        s.drain(LOW);

        Recorder.Entry lateLow = rec.ticket("late-low", "a", LOW);
        assertThat(s.submit(lateLow.ticket)).isEqualTo(Admission.REJECTED);
        assertThat(lateLow.rejection.reason()).isEqualTo(Rejection.Reason.DRAINING);
        assertThat(lateLow.rejection.statusCode()).isEqualTo(503);
        assertThat(lateLow.rejection.tier()).isEqualTo(LOW);
        assertThat(lateLow.rejection.retryAfterSeconds()).isGreaterThanOrEqualTo(1);
        Recorder.Entry normal = rec.ticket("normal", "b", NORMAL);
        assertThat(s.submit(normal.ticket)).isEqualTo(Admission.QUEUED);
        Recorder.Entry high = rec.ticket("high", "c", HIGH);
        assertThat(s.submit(high.ticket)).isEqualTo(Admission.QUEUED);
        Snapshot snapshot = s.snapshot();
        assertThat(snapshot.draining()).containsExactly(LOW);
        assertThat(snapshot.draining(LOW)).isTrue();
        assertThat(snapshot.draining(NORMAL)).isFalse();
        assertThat(snapshot.draining(HIGH)).isFalse();
        assertThat(snapshot.paused()).isEmpty();

        releaseInTurn(List.of(busy, queuedLow, normal, high));

        assertThat(rec.dispatchOrder).as("what waited in the draining tier is still dispatched")
                .containsExactly("busy", "high", "normal", "queued-low");
    }

    @Test
    void drainOfAPausedTierEndsOnlyThatPauseAndDispatchesWhatWaitsInIt() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(3));
        s.pause(null);
        Recorder.Entry high = submit(s, "h", "a", HIGH);
        Recorder.Entry normal = submit(s, "n", "b", NORMAL);
        Recorder.Entry low = submit(s, "l", "c", LOW);

        s.drain(NORMAL);

        assertThat(rec.dispatchOrder).containsExactly("n");
        assertThat(high.outcome()).isEqualTo("none");
        assertThat(low.outcome()).isEqualTo("none");
        assertThat(normal.outcome()).isEqualTo("dispatched");
        Snapshot snapshot = s.snapshot();
        assertThat(snapshot.paused()).containsExactly(HIGH, LOW);
        assertThat(snapshot.draining()).containsExactly(NORMAL);
        assertThat(s.submit(rec.ticket("n2", "b", NORMAL).ticket)).isEqualTo(Admission.REJECTED);
        assertThat(s.submit(rec.ticket("l2", "c", LOW).ticket)).isEqualTo(Admission.QUEUED);
    }

    @Test
    void pausingADrainingTierHoldsWhatWaitsAndKeepsRejectingNewTickets() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s);
        Recorder.Entry queued = submit(s, "q", "a", LOW);
        s.drain(LOW);
        s.pause(LOW);

        busy.release();

        assertThat(queued.outcome()).isEqualTo("none");
        Recorder.Entry late = rec.ticket("late", "a", LOW);
        assertThat(s.submit(late.ticket)).isEqualTo(Admission.REJECTED);
        assertThat(late.rejection.reason()).isEqualTo(Rejection.Reason.DRAINING);
        assertThat(s.snapshot().paused()).containsExactly(LOW);
        assertThat(s.snapshot().draining()).containsExactly(LOW);
    }

    @Test
    void resumeOfOneTierEndsOnlyThatTiersPauseAndDrain() {
        FakeCapacity capacity = new FakeCapacity(0);
        Scheduler s = new Scheduler(strict(), ticks, capacity);
        Recorder.Entry high = submit(s, "h", "a", HIGH);
        Recorder.Entry normal = submit(s, "n", "b", NORMAL);
        Recorder.Entry low = submit(s, "l", "c", LOW);
        s.drain(null);
        s.pause(null);
        capacity.setSlots(5);
        s.capacityChanged();
        assertThat(rec.dispatchOrder).as("every tier is paused").isEmpty();

        s.resume(NORMAL);

        assertThat(rec.dispatchOrder).containsExactly("n");
        assertThat(high.outcome()).isEqualTo("none");
        assertThat(low.outcome()).isEqualTo("none");
        assertThat(s.snapshot().paused()).containsExactly(HIGH, LOW);
        assertThat(s.snapshot().draining()).containsExactly(HIGH, LOW);
        assertThat(s.submit(rec.ticket("n2", "b", NORMAL).ticket)).isEqualTo(Admission.DISPATCHED);
        Recorder.Entry lateHigh = rec.ticket("h2", "a", HIGH);
        assertThat(s.submit(lateHigh.ticket)).isEqualTo(Admission.REJECTED);
        assertThat(lateHigh.rejection.reason()).isEqualTo(Rejection.Reason.DRAINING);
    }

    @Test
    void resumeAllEndsEveryPauseAndDrain() {
        FakeCapacity capacity = new FakeCapacity(0);
        Scheduler s = new Scheduler(strict(), ticks, capacity);
        submit(s, "h", "a", HIGH);
        submit(s, "n", "b", NORMAL);
        submit(s, "l", "c", LOW);
        s.pause(HIGH);
        s.drain(NORMAL);
        s.drain(LOW);
        s.pause(LOW);
        capacity.setSlots(6);
        s.capacityChanged();
        assertThat(rec.dispatchOrder).containsExactly("n");

        s.resume(null);

        assertThat(rec.dispatchOrder).containsExactly("n", "h", "l");
        assertThat(s.snapshot().paused()).isEmpty();
        assertThat(s.snapshot().draining()).isEmpty();
        for (Tier tier : Tier.values()) {
            assertThat(s.submit(rec.ticket("new-" + tier, "d", tier).ticket)).isEqualTo(Admission.DISPATCHED);
        }
    }

    @Test
    void flushLeavesPauseAndDrainAsTheyWere() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(2));
        s.pause(LOW);
        s.drain(NORMAL);
        Recorder.Entry low = submit(s, "l", "a", LOW);

        assertThat(s.flush(null)).isEqualTo(1);

        assertThat(low.outcome()).isEqualTo("flushed");
        assertThat(s.snapshot().paused()).containsExactly(LOW);
        assertThat(s.snapshot().draining()).containsExactly(NORMAL);
        assertThat(s.submit(rec.ticket("l2", "a", LOW).ticket)).isEqualTo(Admission.QUEUED);
        assertThat(s.submit(rec.ticket("n2", "b", NORMAL).ticket)).isEqualTo(Admission.REJECTED);
    }

    @Test
    void snapshotTiersAreImmutableCopiesThatLaterControlsDoNotChange() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        s.pause(LOW);
        Snapshot before = s.snapshot();

        s.pause(null);
        s.drain(HIGH);

        assertThat(before.paused()).containsExactly(LOW);
        assertThat(before.draining()).isEmpty();
        assertThatThrownBy(() -> before.paused().add(HIGH)).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> before.draining().add(HIGH)).isInstanceOf(UnsupportedOperationException.class);
        Set<Tier> source = EnumSet.of(NORMAL);
        Snapshot built = new Snapshot(Map.of(), Map.of(), 0, 0, source, source);
        source.add(HIGH);
        assertThat(built.paused()).containsExactly(NORMAL);
        assertThat(built.draining()).containsExactly(NORMAL);
    }

    @Test
    void flushOfOneTierAnswersOnlyThatTierAndFlushOfAllAnswersTheRest() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        occupy(s);
        Recorder.Entry h = submit(s, "h", "a", HIGH);
        Recorder.Entry n1 = submit(s, "n1", "a", NORMAL);
        Recorder.Entry n2 = submit(s, "n2", "b", NORMAL);
        Recorder.Entry l = rec.ticket("l", "c", LOW, 100, "m");
        s.submit(l.ticket);

        assertThat(s.flush(NORMAL)).isEqualTo(2);
        assertThat(n1.outcome()).isEqualTo("flushed");
        assertThat(n2.outcome()).isEqualTo("flushed");
        assertThat(h.outcome()).isEqualTo("none");
        assertThat(s.snapshot().depth()).containsEntry(HIGH, 1).containsEntry(NORMAL, 0).containsEntry(LOW, 1);

        assertThat(s.flush(null)).isEqualTo(2);
        assertThat(h.outcome()).isEqualTo("flushed");
        assertThat(l.outcome()).isEqualTo("flushed");
        assertThat(s.snapshot().totalDepth()).isZero();
        assertThat(s.snapshot().queuedBytes()).isZero();
        assertThat(s.snapshot().queuedPerClient()).isEmpty();
    }

    @Test
    void aTicketCannotBeSubmittedTwice() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        Recorder.Entry a = submit(s, "a", "a", NORMAL);
        assertThatThrownBy(() -> s.submit(a.ticket)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void reconfigureAppliesNewLimitsToNewDecisions() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        occupy(s);
        submit(s, "n1", "a", NORMAL);
        s.reconfigure(new QueueConfig(HIGH_TIER, new TierConfig(1, Duration.ofSeconds(300)), LOW_TIER, 429,
                Duration.ZERO, 1 << 20));
        Recorder.Entry n2 = submit(s, "n2", "a", NORMAL);
        assertThat(n2.rejection.statusCode()).isEqualTo(429);
    }

    @Test
    void positionsAtAdmissionFollowTheDispatchOrderAcrossTiersAndClients() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s);
        List<Recorder.Entry> queued = List.of(submit(s, "d-high", "d", HIGH), submit(s, "a1", "a", NORMAL),
                submit(s, "b1", "b", NORMAL), submit(s, "a2", "a", NORMAL), submit(s, "b2", "b", NORMAL),
                submit(s, "c-low", "c", LOW));

        assertThat(queued).extracting(e -> e.ticket.position()).containsExactly(1, 2, 3, 4, 5, 6);
        assertThat(busy.ticket.position()).as("dispatched at once: no place").isZero();
        List<Recorder.Entry> all = new ArrayList<>(queued);
        all.add(0, busy);
        releaseInTurn(all);
        assertThat(rec.dispatchOrder).containsExactly("busy", "d-high", "a1", "b1", "a2", "b2", "c-low");
    }

    @Test
    void aClientServedLessRecentlyTakesAPlaceAheadOfAnotherClientsQueue() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        Recorder.Entry busy = rec.ticket("busy", "a", NORMAL);
        s.submit(busy.ticket);
        Recorder.Entry a1 = submit(s, "a1", "a", NORMAL);
        Recorder.Entry a2 = submit(s, "a2", "a", NORMAL);
        Recorder.Entry b1 = submit(s, "b1", "b", NORMAL);

        // a was served last (busy): b's first request goes before a's queue, b's turn coming first.
        assertThat(List.of(a1, a2, b1)).extracting(e -> e.ticket.position()).containsExactly(1, 2, 1);
        releaseInTurn(List.of(busy, a1, a2, b1));
        assertThat(rec.dispatchOrder).containsExactly("busy", "b1", "a1", "a2");
    }

    @Test
    void waitingRequestsOfAPausedTierDoNotCountAheadOfOthers() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        occupy(s);
        s.pause(HIGH);
        Recorder.Entry paused = submit(s, "paused-high", "a", HIGH);
        Recorder.Entry normal = submit(s, "normal", "b", NORMAL);
        Recorder.Entry pausedToo = submit(s, "paused-high-2", "c", HIGH);

        assertThat(normal.ticket.position()).isEqualTo(1);
        assertThat(paused.ticket.position()).isEqualTo(1);
        assertThat(pausedToo.ticket.position()).as("among paused tickets, the paused ones count").isEqualTo(2);
    }

    @Test
    void pastTheExactLimitAPositionIsEstimatedFromTheTierDepths() {
        TierConfig deep = new TierConfig(5000, Duration.ofSeconds(600));
        Scheduler s = new Scheduler(new QueueConfig(deep, deep, deep, 503, Duration.ZERO, 1L << 30), ticks,
                new FakeCapacity(1));
        occupy(s);
        for (int i = 0; i < Scheduler.EXACT_POSITION_LIMIT; i++) {
            submit(s, "low" + i, "c" + (i % 7), LOW);
        }
        Recorder.Entry newClientExact = submit(s, "z-exact", "z", NORMAL);
        Recorder.Entry high = submit(s, "high", "h", HIGH);
        Recorder.Entry newClientEstimated = submit(s, "y-late", "y", LOW);

        assertThat(newClientExact.ticket.position()).as("ahead of every low, counted or estimated").isEqualTo(1);
        assertThat(high.ticket.position()).isEqualTo(1);
        // Exactly, a new client's first low request would come after one request of each of the 7 other clients
        // (round-robin) and the two higher ones; the estimate counts every request of its tier and above.
        assertThat(newClientEstimated.ticket.position()).isEqualTo(Scheduler.EXACT_POSITION_LIMIT + 3);
    }
}
