package dev.oqp.queue.scheduler;

import static dev.oqp.common.config.Tier.HIGH;
import static dev.oqp.common.config.Tier.LOW;
import static dev.oqp.common.config.Tier.NORMAL;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.oqp.common.config.QueueConfig;
import dev.oqp.common.config.Tier;
import dev.oqp.common.config.TierConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
    void pauseHoldsDispatchAndResumeContinues() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(2));
        s.pause();
        Recorder.Entry a = rec.ticket("a", "a", NORMAL);
        assertThat(s.submit(a.ticket)).isEqualTo(Admission.QUEUED);
        Recorder.Entry b = submit(s, "b", "b", HIGH);
        s.capacityChanged();
        assertThat(rec.dispatchOrder).isEmpty();
        assertThat(s.snapshot().paused()).isTrue();

        s.resume();

        assertThat(rec.dispatchOrder).containsExactly("b", "a");
        assertThat(s.snapshot().paused()).isFalse();
    }

    @Test
    void drainRejectsNewTicketsAndKeepsDispatchingQueuedOnes() {
        Scheduler s = new Scheduler(strict(), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s);
        Recorder.Entry queued = submit(s, "q", "a", NORMAL);

        s.drain();
        Recorder.Entry late = rec.ticket("late", "a", HIGH);
        assertThat(s.submit(late.ticket)).isEqualTo(Admission.REJECTED);
        assertThat(late.rejection.reason()).isEqualTo(Rejection.Reason.DRAINING);
        assertThat(late.rejection.statusCode()).isEqualTo(503);
        assertThat(s.snapshot().draining()).isTrue();

        busy.release();
        assertThat(queued.outcome()).isEqualTo("dispatched");
        queued.release();
        assertThat(s.snapshot().totalDepth()).isZero();
        assertThat(s.snapshot().inFlight()).isZero();
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
}
