package dev.oqp.queue.scheduler;

import static dev.oqp.common.config.Tier.HIGH;
import static dev.oqp.common.config.Tier.NORMAL;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;

import dev.oqp.common.config.QueueConfig;
import dev.oqp.common.config.TierConfig;
import org.junit.jupiter.api.Test;

/** A ticket's own wait limit ({@link Ticket#maxWait}): refused at admission when the estimate exceeds it, or at it. */
class SchedulerDeadlineTest {
    private static final TierConfig TIER = new TierConfig(100, Duration.ofSeconds(300));

    private final FakeTicks ticks = new FakeTicks();
    private final Recorder rec = new Recorder();

    /** Overflow status 429, so that a deadline refusal shows it answers with that, not a fixed 503. */
    private static QueueConfig config() {
        return new QueueConfig(TIER, TIER, TIER, 429, Duration.ZERO, 512L << 20);
    }

    private Recorder.Entry occupy(Scheduler<?> s, String name) {
        Recorder.Entry busy = rec.ticket(name, "busy", HIGH);
        assertThat(s.submit(busy.ticket)).isEqualTo(Admission.DISPATCHED);
        return busy;
    }

    private Recorder.Entry withLimit(String name, Duration maxWait) {
        Recorder.Entry e = rec.ticket(name, "a", NORMAL);
        e.ticket.maxWait(maxWait.toNanos());
        return e;
    }

    @Test
    void aLimitShorterThanThePredictedWaitIsRefusedAtOnceWithTheEstimateAsRetryAfter() {
        Scheduler s = new Scheduler(config(), ticks, new FakeCapacity(1));
        occupy(s, "busy");
        Recorder.Entry late = withLimit("late", Duration.ofSeconds(1));

        // No service time measured yet: 10 s per request assumed, one slot, first in line: 10 s ahead.
        assertThat(s.submit(late.ticket)).isEqualTo(Admission.REJECTED);

        assertThat(late.outcome()).isEqualTo("rejected");
        assertThat(late.rejection.reason()).isEqualTo(Rejection.Reason.DEADLINE);
        assertThat(late.rejection.statusCode()).isEqualTo(429);
        assertThat(late.rejection.retryAfterSeconds()).isEqualTo(10);
        assertThat(late.rejection.announce()).isFalse();
        assertThat(late.ticket.position()).isZero();
        assertThat(s.snapshot().totalDepth()).as("never held").isZero();
        assertThat(s.expireDue()).as("nothing waits").isEqualTo(-1);
    }

    @Test
    void aLimitThePredictionMeetsQueuesAndEndsAsMissedAtItsOwnDeadlineNotTheTiers() {
        Scheduler s = new Scheduler(config(), ticks, new FakeCapacity(1));
        occupy(s, "busy");
        Recorder.Entry patient = withLimit("patient", Duration.ofSeconds(30));
        Recorder.Entry plain = rec.ticket("plain", "b", NORMAL);

        assertThat(s.submit(patient.ticket)).isEqualTo(Admission.QUEUED);
        assertThat(s.submit(plain.ticket)).isEqualTo(Admission.QUEUED);
        assertThat(s.expireDue()).as("the sooner deadline is the timer's").isEqualTo(Duration.ofSeconds(30).toNanos());

        ticks.advance(Duration.ofSeconds(30).minusNanos(1));
        s.expireDue();
        assertThat(patient.outcome()).isEqualTo("none");
        ticks.advance(Duration.ofNanos(1));
        s.expireDue();

        assertThat(patient.outcome()).isEqualTo("missed");
        assertThat(patient.waited).isEqualTo(Duration.ofSeconds(30).toNanos());
        assertThat(patient.rejection.reason()).isEqualTo(Rejection.Reason.DEADLINE);
        assertThat(patient.rejection.statusCode()).isEqualTo(429);
        // Predicted from the depth, in constant time: it and the other NORMAL ticket, 2 × 10 s.
        assertThat(patient.rejection.retryAfterSeconds()).isEqualTo(20);
        assertThat(plain.outcome()).as("no limit of its own: the tier's max_wait").isEqualTo("none");
        ticks.advance(Duration.ofSeconds(270));
        s.expireDue();
        assertThat(plain.outcome()).isEqualTo("expired");
    }

    @Test
    void aLimitLongerThanTheTiersMaxWaitIsCappedByIt() {
        Scheduler s = new Scheduler(config(), ticks, new FakeCapacity(1));
        occupy(s, "busy");
        Recorder.Entry e = withLimit("long", Duration.ofHours(2));

        assertThat(s.submit(e.ticket)).isEqualTo(Admission.QUEUED);
        assertThat(s.expireDue()).isEqualTo(Duration.ofSeconds(300).toNanos());
        ticks.advance(Duration.ofSeconds(300));
        s.expireDue();

        assertThat(e.outcome()).isEqualTo("missed");
    }

    @Test
    void aFreeSlotDispatchesAtOnceWhateverTheLimitEvenZero() {
        Scheduler s = new Scheduler(config(), ticks, new FakeCapacity(1));
        Recorder.Entry now = withLimit("now", Duration.ZERO);

        assertThat(s.submit(now.ticket)).isEqualTo(Admission.DISPATCHED);

        Recorder.Entry next = withLimit("next", Duration.ZERO);
        assertThat(s.submit(next.ticket)).as("zero: never wait").isEqualTo(Admission.REJECTED);
        assertThat(next.rejection.reason()).isEqualTo(Rejection.Reason.DEADLINE);
    }

    @Test
    void thePredictionUsesTheMeasuredServiceTimeAndThePosition() {
        FakeCapacity capacity = new FakeCapacity(1);
        Scheduler s = new Scheduler(config(), ticks, capacity);
        Recorder.Entry first = occupy(s, "first");
        ticks.advance(Duration.ofSeconds(2));
        first.release();
        assertThat(s.averageServiceNanos()).isEqualTo(Duration.ofSeconds(2).toNanos());
        occupy(s, "busy");

        Recorder.Entry one = withLimit("one", Duration.ofSeconds(3));
        Recorder.Entry two = withLimit("two", Duration.ofSeconds(3));
        assertThat(s.submit(one.ticket)).as("2 s ahead").isEqualTo(Admission.QUEUED);
        assertThat(s.submit(two.ticket)).as("4 s ahead").isEqualTo(Admission.REJECTED);

        assertThat(two.rejection.retryAfterSeconds()).isEqualTo(4);
        assertThat(one.ticket.position()).isEqualTo(1);
    }

    @Test
    void theStandingOfAWaitingTicketCountsOnlyItsClientsOlderTicketsAndFallsAsTheQueueMoves() {
        Scheduler s = new Scheduler(config(), ticks, new FakeCapacity(1));
        Recorder.Entry busy = occupy(s, "busy");
        Recorder.Entry[] mine = new Recorder.Entry[3];
        for (int i = 0; i < 3; i++) {
            mine[i] = rec.ticket("a" + i, "a", NORMAL);
            s.submit(mine[i].ticket);
        }
        for (int i = 0; i < 3; i++) {
            assertThat(s.standing(mine[i].ticket).position()).as("a%d", i).isEqualTo(i + 1);
            assertThat(s.standing(mine[i].ticket).etaNanos()).isEqualTo((i + 1) * 10_000_000_000L);
        }

        busy.release();

        assertThat(s.standing(mine[0].ticket)).as("dispatched").isNull();
        assertThat(s.standing(mine[1].ticket).position()).isEqualTo(1);
        assertThat(s.standing(mine[2].ticket).position()).isEqualTo(2);
    }

    @Test
    void theRefusalsRetryAfterIsCappedAtTheTiersMaxWait() {
        TierConfig shortWait = new TierConfig(100, Duration.ofSeconds(5));
        Scheduler s = new Scheduler(new QueueConfig(TIER, shortWait, TIER, 429, Duration.ZERO, 512L << 20), ticks,
                new FakeCapacity(1));
        occupy(s, "busy");
        Recorder.Entry late = withLimit("late", Duration.ofSeconds(1));

        // 10 s predicted, but NORMAL never lets it wait more than 5 s.
        assertThat(s.submit(late.ticket)).isEqualTo(Admission.REJECTED);

        assertThat(late.rejection.reason()).isEqualTo(Rejection.Reason.DEADLINE);
        assertThat(late.rejection.retryAfterSeconds()).isEqualTo(5);
    }

    @Test
    void aNegativeLimitIsRefused() {
        Ticket<?> t = rec.ticket("t", "a", NORMAL).ticket;
        assertThatThrownBy(() -> t.maxWait(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThat(t.maxWaitNanos()).isEqualTo(-1);
    }
}
