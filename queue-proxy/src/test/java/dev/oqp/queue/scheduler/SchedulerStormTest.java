package dev.oqp.queue.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.function.Supplier;

import dev.oqp.common.config.QueueConfig;
import dev.oqp.common.config.Tier;
import dev.oqp.common.config.TierConfig;
import org.junit.jupiter.api.Test;

/**
 * Random storms: whatever happens, every slot comes back and every ticket gets exactly one outcome; per-tier
 * pause and drain hold at every step (no ticket of a paused tier is dispatched, only draining tiers reject
 * with DRAINING).
 */
class SchedulerStormTest {

    private static final Set<String> OUTCOMES = Set.of("dispatched", "rejected", "expired", "missed", "cancelled",
            "flushed");

    private static QueueConfig config() {
        return new QueueConfig(new TierConfig(5, Duration.ofSeconds(30)), new TierConfig(8, Duration.ofSeconds(60)),
                new TierConfig(10, Duration.ofSeconds(90)), 503, Duration.ofSeconds(20), 5000);
    }

    @Test
    void afterARandomStormOfSubmitsCancelsReleasesExpiriesAndTierControlsEverySlotIsFreeAndEveryTicketHadOneOutcome() {
        Random random = new Random(20261125L);
        FakeTicks ticks = new FakeTicks();
        FakeCapacity capacity = new FakeCapacity(3).cap("c0", 1).cap("c1", 2);
        Scheduler s = new Scheduler(config(), ticks, capacity);
        Recorder rec = new Recorder();
        List<Recorder.Entry> held = new ArrayList<>();
        // What the operator controls should have left in force; the scheduler must agree at every step.
        EnumSet<Tier> paused = EnumSet.noneOf(Tier.class);
        EnumSet<Tier> draining = EnumSet.noneOf(Tier.class);
        List<String> violations = new ArrayList<>();

        for (int step = 0; step < 20_000; step++) {
            int op = random.nextInt(100);
            if (op < 40) {
                Tier tier = Tier.values()[random.nextInt(3)];
                Recorder.Entry e = rec.ticket("t" + step, "c" + random.nextInt(5), tier, random.nextInt(1500),
                        "m" + random.nextInt(3));
                boolean releaseAtOnce = random.nextInt(10) == 0;
                if (random.nextInt(8) == 0) {
                    // A wait limit of its own (X-Queue-Max-Wait): refused at admission, or missed at its deadline.
                    e.ticket.maxWait(Duration.ofMillis(random.nextInt(40_000)).toNanos());
                }
                e.onDispatch = (entry, lease) -> {
                    if (paused.contains(tier)) {
                        violations.add(entry.name + " dispatched while " + tier + " was paused");
                    }
                    if (releaseAtOnce) {
                        lease.release();
                        lease.release();
                    }
                };
                Admission admission = s.submit(e.ticket);
                boolean rejectedAsDraining = admission == Admission.REJECTED
                        && e.rejection.reason() == Rejection.Reason.DRAINING;
                if (rejectedAsDraining != draining.contains(tier)) {
                    violations.add(e.name + " (" + tier + ") " + admission + " while draining " + draining);
                }
            } else if (op < 62) {
                collectHeld(rec, held);
                if (!held.isEmpty()) {
                    Recorder.Entry e = held.remove(random.nextInt(held.size()));
                    e.release();
                    if (random.nextBoolean()) {
                        e.release();
                    }
                }
            } else if (op < 72) {
                if (!rec.entries.isEmpty()) {
                    s.cancel(rec.entries.get(random.nextInt(rec.entries.size())).ticket);
                }
            } else if (op < 84) {
                ticks.advance(Duration.ofMillis(random.nextInt(10_000)));
                long next = s.expireDue();
                assertThat(next).isGreaterThanOrEqualTo(-1);
            } else if (op < 88) {
                capacity.setSlots(2 + random.nextInt(4));
                s.capacityChanged();
            } else if (op < 93) {
                capacity.noHostFor("m2", random.nextBoolean());
                s.capacityChanged();
            } else if (op < 97) {
                // The model changes first: resume and drain deliver their dispatches before they return.
                Tier tier = randomTierOrAll(random);
                if (random.nextBoolean()) {
                    paused.addAll(tiers(tier));
                    s.pause(tier);
                } else {
                    paused.removeAll(tiers(tier));
                    draining.removeAll(tiers(tier));
                    s.resume(tier);
                }
            } else if (op < 98) {
                s.flush(randomTierOrAll(random));
            } else {
                Tier tier = randomTierOrAll(random);
                draining.addAll(tiers(tier));
                paused.removeAll(tiers(tier));
                s.drain(tier);
            }
            Snapshot snapshot = s.snapshot();
            assertThat(snapshot.paused()).isEqualTo(paused);
            assertThat(snapshot.draining()).isEqualTo(draining);
            assertThat(capacity.inUse("c0")).isLessThanOrEqualTo(1);
            assertThat(capacity.inUse("c1")).isLessThanOrEqualTo(2);
            assertThat(snapshot.inFlight()).isEqualTo(capacity.used());
        }

        s.resume(null);
        capacity.noHostFor("m2", false);
        capacity.setSlots(5);
        s.capacityChanged();
        for (int round = 0; round < 10_000 && (s.snapshot().totalDepth() > 0 || capacity.used() > 0); round++) {
            collectHeld(rec, held);
            for (Recorder.Entry e : held) {
                e.release();
            }
            held.clear();
        }

        assertThat(violations).isEmpty();
        assertThat(rec.entries).hasSizeGreaterThan(7000);
        assertThat(rec.entries).allSatisfy(e -> {
            assertThat(e.outcomes).hasSize(1);
            assertThat(OUTCOMES).contains(e.outcomes.get(0));
        });
        assertThat(rec.entries.stream().map(Recorder.Entry::outcome).distinct()).containsExactlyInAnyOrderElementsOf(OUTCOMES);
        assertThat(capacity.used()).isZero();
        assertThat(capacity.leases).allSatisfy(l -> assertThat(l.releases).isEqualTo(1));
        Snapshot snapshot = s.snapshot();
        assertThat(snapshot.inFlight()).isZero();
        assertThat(snapshot.totalDepth()).isZero();
        assertThat(snapshot.queuedBytes()).isZero();
        assertThat(snapshot.queuedPerClient()).isEmpty();
    }

    @Test
    void concurrentSubmitsCancelsAndReleasesFromManyThreadsLeakNothing() throws Exception {
        FakeTicks ticks = new FakeTicks();
        FakeCapacity capacity = new FakeCapacity(3).cap("c0", 1);
        QueueConfig deep = new QueueConfig(new TierConfig(100_000, Duration.ofSeconds(30)),
                new TierConfig(100_000, Duration.ofSeconds(60)), new TierConfig(100_000, Duration.ofSeconds(90)),
                503, Duration.ofSeconds(20), 1L << 40);
        Scheduler s = new Scheduler(deep, ticks, capacity);
        int threads = 4;
        int perThread = 1_000;
        Set<Ticket> outcomes = ConcurrentHashMap.newKeySet();
        List<Ticket> all = new ArrayList<>();
        CyclicBarrier start = new CyclicBarrier(threads);
        List<Thread> workers = new ArrayList<>();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        for (int w = 0; w < threads; w++) {
            Random random = new Random(w);
            List<Ticket> mine = new ArrayList<>();
            for (int i = 0; i < perThread; i++) {
                boolean releaseAtOnce = random.nextInt(3) > 0;
                Ticket[] self = new Ticket[1];
                self[0] = new Ticket("c" + random.nextInt(4), Tier.values()[random.nextInt(3)], 10, "m",
                        new OneOutcome(outcomes, () -> self[0], releaseAtOnce));
                mine.add(self[0]);
            }
            all.addAll(mine);
            workers.add(new Thread(() -> {
                try {
                    start.await();
                    for (int i = 0; i < mine.size(); i++) {
                        s.submit(mine.get(i));
                        if (i % 5 == 4) {
                            s.cancel(mine.get(i - random.nextInt(5)));
                        }
                        if (i % 50 == 0) {
                            s.expireDue();
                            s.capacityChanged();
                        }
                        if (i % 100 == 17) {
                            s.pause(randomTierOrAll(random));
                        } else if (i % 100 == 67) {
                            s.resume(randomTierOrAll(random));
                        } else if (i % 300 == 151) {
                            s.drain(randomTierOrAll(random));
                        }
                    }
                } catch (Throwable t) {
                    failures.add(t);
                }
            }));
        }
        workers.forEach(Thread::start);
        for (Thread t : workers) {
            t.join();
        }
        // Leases not released at once are released now; releasing lets the rest of the queue through.
        s.resume(null);
        for (int round = 0; round < 100_000 && (s.snapshot().totalDepth() > 0 || s.snapshot().inFlight() > 0); round++) {
            OneOutcome.releaseParked();
        }

        assertThat(failures).isEmpty();
        assertThat(outcomes).hasSize(all.size());
        assertThat(OneOutcome.duplicates).isZero();
        assertThat(capacity.used()).isZero();
        assertThat(s.snapshot().inFlight()).isZero();
        assertThat(s.snapshot().totalDepth()).isZero();
    }

    /** A random tier, or null (all tiers) one time in four. */
    private static Tier randomTierOrAll(Random random) {
        return random.nextInt(4) == 0 ? null : Tier.values()[random.nextInt(3)];
    }

    private static Set<Tier> tiers(Tier tier) {
        return tier == null ? EnumSet.allOf(Tier.class) : EnumSet.of(tier);
    }

    private static void collectHeld(Recorder rec, List<Recorder.Entry> held) {
        held.clear();
        for (Recorder.Entry e : rec.entries) {
            if (e.lease != null && !e.releasedByTest) {
                held.add(e);
            }
        }
    }

    /** Records that a ticket got an outcome, counting duplicates; parks some leases to release later. */
    private static final class OneOutcome implements Ticket.Listener {
        static final Queue<Lease> PARKED = new ConcurrentLinkedQueue<>();
        static volatile int duplicates;

        private final Set<Ticket> outcomes;
        private final Supplier<Ticket> self;
        private final boolean releaseAtOnce;

        OneOutcome(Set<Ticket> outcomes, Supplier<Ticket> self, boolean releaseAtOnce) {
            this.outcomes = outcomes;
            this.self = self;
            this.releaseAtOnce = releaseAtOnce;
        }

        static void releaseParked() {
            Lease l;
            while ((l = PARKED.poll()) != null) {
                l.release();
            }
        }

        private void record() {
            if (!outcomes.add(self.get())) {
                synchronized (OneOutcome.class) {
                    duplicates++;
                }
            }
        }

        @Override
        public void dispatched(Grant lease, long waitedNanos) {
            record();
            if (releaseAtOnce) {
                lease.release();
            } else {
                PARKED.add(lease);
            }
        }

        @Override
        public void rejected(Rejection rejection) {
            record();
        }

        @Override
        public void expired(long waitedNanos) {
            record();
        }

        @Override
        public void cancelled(long waitedNanos) {
            record();
        }

        @Override
        public void flushed(long waitedNanos) {
            record();
        }
    }
}
