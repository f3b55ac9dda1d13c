package dev.oqp.queue.scheduler;

import static dev.oqp.common.config.Tier.HIGH;
import static dev.oqp.common.config.Tier.LOW;
import static dev.oqp.common.config.Tier.NORMAL;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import dev.oqp.common.config.QueueConfig;
import dev.oqp.common.config.Tier;
import dev.oqp.common.config.TierConfig;
import org.junit.jupiter.api.Test;

/**
 * The queue's transitions as the webhooks see them: a tier's high watermark told once per crossing (re-armed by
 * dispatches too), the queue draining told once per "some waiting to none", and a refusal for a full tier or
 * the byte budget announced once per tier until the tier admits again.
 */
class SchedulerSignalsTest {
    private final FakeTicks ticks = new FakeTicks();
    private final Recorder rec = new Recorder();
    private final List<String> signals = new CopyOnWriteArrayList<>();

    /** NORMAL holds at most 4 waiting, high watermark at 50 %; 1000 bytes may wait in all. */
    private Scheduler<Lease> scheduler(int slots) {
        TierConfig tier = new TierConfig(4, Duration.ofSeconds(60), 50);
        Scheduler<Lease> s = new Scheduler<>(new QueueConfig(tier, tier, tier, 503, Duration.ZERO, 1000), ticks,
                new FakeCapacity(slots));
        s.signals(new Scheduler.Signals() {
            @Override
            public void highWatermark(Tier t, int depth, int maxDepth) {
                signals.add("high_watermark " + t.yamlName() + " " + depth + "/" + maxDepth);
            }

            @Override
            public void drained() {
                signals.add("drained");
            }
        });
        return s;
    }

    private Recorder.Entry submit(Scheduler<Lease> s, String name, Tier tier) {
        Recorder.Entry e = rec.ticket(name, "c-" + name, tier);
        s.submit(e.ticket);
        return e;
    }

    @Test
    void highWatermarkIsToldOnceWhenReachedAndAgainOnlyAfterDispatchesTookTheTierBelowIt() {
        Scheduler<Lease> s = scheduler(1);
        Recorder.Entry busy = submit(s, "busy", NORMAL);
        submit(s, "q1", NORMAL);
        assertThat(signals).isEmpty();
        submit(s, "q2", NORMAL);
        submit(s, "q3", NORMAL);
        assertThat(signals).containsExactly("high_watermark normal 2/4");

        busy.release();
        // 2 waiting: still at the mark, nothing new.
        assertThat(signals).containsExactly("high_watermark normal 2/4");
        rec.entries.get(1).release();
        // 1 waiting: below the mark, re-armed by the dispatch alone; the next enqueue reaching it tells again.
        submit(s, "q4", NORMAL);
        assertThat(signals).containsExactly("high_watermark normal 2/4", "high_watermark normal 2/4");
    }

    @Test
    void drainedIsToldOnceWhenTheLastWaitingTicketLeavesNotForTicketsDispatchedAtOnce() {
        Scheduler<Lease> s = scheduler(1);
        submit(s, "a", NORMAL).release();
        submit(s, "b", HIGH).release();
        assertThat(signals).as("nothing ever waited").isEmpty();

        Recorder.Entry c = submit(s, "c", NORMAL);
        Recorder.Entry d = submit(s, "d", NORMAL);
        Recorder.Entry e = submit(s, "e", LOW);
        c.release();
        assertThat(signals).as("e still waits").isEmpty();
        d.release();
        assertThat(signals).containsExactly("drained");
        e.release();
        assertThat(signals).containsExactly("drained");
    }

    @Test
    void aFullTierIsAnnouncedOnceUntilItAdmitsAgain() {
        Scheduler<Lease> s = scheduler(1);
        Recorder.Entry busy = submit(s, "busy", HIGH);
        for (int i = 0; i < 4; i++) {
            submit(s, "w" + i, NORMAL);
        }
        Recorder.Entry r1 = submit(s, "r1", NORMAL);
        Recorder.Entry r2 = submit(s, "r2", NORMAL);
        Recorder.Entry otherTier = submit(s, "low", LOW);
        assertThat(r1.rejection.reason()).isEqualTo(Rejection.Reason.TIER_FULL);
        assertThat(r1.rejection.announce()).isTrue();
        assertThat(r2.rejection.announce()).as("the same full tier").isFalse();
        assertThat(otherTier.rejection).as("LOW is not full").isNull();

        busy.release();
        Recorder.Entry admitted = submit(s, "w4", NORMAL);
        assertThat(admitted.rejection).isNull();
        Recorder.Entry r3 = submit(s, "r3", NORMAL);
        assertThat(r3.rejection.announce()).as("full again after admitting").isTrue();
    }

    @Test
    void theByteBudgetIsAnnouncedOncePerTierUntilItAdmitsAgain() {
        Scheduler<Lease> s = scheduler(1);
        submit(s, "busy", HIGH);
        Recorder.Entry big = rec.ticket("big", "x", NORMAL, 800, "m");
        s.submit(big.ticket);
        Recorder.Entry r1 = rec.ticket("r1", "x", NORMAL, 800, "m");
        s.submit(r1.ticket);
        Recorder.Entry r2 = rec.ticket("r2", "x", NORMAL, 800, "m");
        s.submit(r2.ticket);
        Recorder.Entry low = rec.ticket("low", "y", LOW, 800, "m");
        s.submit(low.ticket);

        assertThat(r1.rejection.reason()).isEqualTo(Rejection.Reason.BYTES_FULL);
        assertThat(r1.rejection.announce()).isTrue();
        assertThat(r2.rejection.announce()).isFalse();
        assertThat(low.rejection.announce()).as("announced per tier").isTrue();
    }

    @Test
    void drainingRejectionsAreNeverAnnounced() {
        Scheduler<Lease> s = scheduler(1);
        s.drain(NORMAL);
        Recorder.Entry r = submit(s, "r", NORMAL);
        assertThat(r.rejection.reason()).isEqualTo(Rejection.Reason.DRAINING);
        assertThat(r.rejection.announce()).isFalse();
    }
}
