package dev.oqp.queue.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import dev.oqp.common.config.QueueConfig;
import dev.oqp.common.config.Tier;
import dev.oqp.common.config.TierConfig;
import org.junit.jupiter.api.Test;

/** {@link Scheduler#standings}: every standing under one lock, exactly as {@link Scheduler#standing} for each. */
class SchedulerStandingsTest {
    private static final TierConfig TIER = new TierConfig(1000, Duration.ofSeconds(300));

    private final FakeTicks ticks = new FakeTicks();
    private final Recorder rec = new Recorder();

    @Test
    void theBatchAnswersWhatEachStandingAnswersWithClientsTiersAgingAndAPausedTier() {
        QueueConfig config = new QueueConfig(TIER, TIER, TIER, 503, Duration.ofSeconds(60), 512L << 20);
        Scheduler<?> s = new Scheduler<>(config, ticks, new FakeCapacity(1));
        assertThat(s.submit(rec.ticket("busy", "busy", Tier.HIGH).ticket)).isEqualTo(Admission.DISPATCHED);
        Random random = new Random(17);
        List<Ticket<?>> tickets = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            Recorder.Entry e = rec.ticket("t" + i, "c" + random.nextInt(7), Tier.values()[random.nextInt(3)]);
            assertThat(s.submit(e.ticket)).isEqualTo(Admission.QUEUED);
            tickets.add(e.ticket);
            ticks.advance(Duration.ofMillis(random.nextInt(1500)));
            if (i == 120) {
                s.pause(Tier.LOW);
            }
        }
        Ticket<?> notSubmitted = rec.ticket("never", "c0", Tier.LOW).ticket;
        tickets.add(notSubmitted);

        Map<Ticket<?>, Standing> batch = s.standings(tickets);

        assertThat(batch).hasSize(200).doesNotContainKey(notSubmitted);
        for (Ticket<?> t : tickets.subList(0, 200)) {
            @SuppressWarnings({"unchecked", "rawtypes"})
            Standing one = ((Scheduler) s).standing(t);
            assertThat(batch.get(t)).as("%s", t).isEqualTo(one);
        }
    }

    @Test
    void pastTheExactLimitTheBatchUsesTheConstantTimePlaceAsStandingDoes() {
        QueueConfig config = new QueueConfig(TIER, new TierConfig(5000, Duration.ofSeconds(300)), TIER, 503,
                Duration.ZERO, 512L << 20);
        Scheduler<?> s = new Scheduler<>(config, ticks, new FakeCapacity(1));
        assertThat(s.submit(rec.ticket("busy", "busy", Tier.HIGH).ticket)).isEqualTo(Admission.DISPATCHED);
        List<Ticket<?>> tickets = new ArrayList<>();
        for (int i = 0; i <= Scheduler.EXACT_POSITION_LIMIT; i++) {
            Recorder.Entry e = rec.ticket("t" + i, "c" + (i % 3), Tier.NORMAL);
            s.submit(e.ticket);
            tickets.add(e.ticket);
        }

        Map<Ticket<?>, Standing> batch = s.standings(tickets);

        assertThat(batch).hasSize(tickets.size());
        assertThat(batch.get(tickets.get(0)).position()).isEqualTo(Scheduler.EXACT_POSITION_LIMIT + 1);
    }
}
