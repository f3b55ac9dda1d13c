package dev.oqp.queue.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;

import dev.oqp.common.config.Tier;
import dev.oqp.queue.scheduler.Standing;
import org.junit.jupiter.api.Test;

class QueueRequestsTest {
    private final QueueRequests requests = new QueueRequests();

    @Test
    void aClientFindsOnlyItsOwnEntryAndManagementFindsAny() {
        QueueRequests.Entry alice = requests.track("job-1", "alice", Tier.NORMAL, () -> null);

        assertThat(requests.find("job-1", "alice")).isSameAs(alice);
        assertThat(requests.find("job-1", "bob")).isNull();
        assertThat(requests.find("job-1", null)).isSameAs(alice);
        assertThat(requests.find("job-2", null)).isNull();
    }

    @Test
    void oneIdUsedByTwoClientsKeepsBothAndEachEndRemovesOnlyItsOwn() {
        QueueRequests.Entry alice = requests.track("same", "alice", Tier.NORMAL, () -> null);
        QueueRequests.Entry bob = requests.track("same", "bob", Tier.LOW, () -> null);

        assertThat(requests.find("same", "alice")).isSameAs(alice);
        assertThat(requests.find("same", "bob")).isSameAs(bob);
        assertThat(requests.find("same", null)).as("the newest").isSameAs(bob);

        bob.end();
        bob.end();

        assertThat(requests.find("same", "bob")).isNull();
        assertThat(requests.find("same", null)).isSameAs(alice);
        assertThat(requests.size()).isEqualTo(1);
        alice.end();
        assertThat(requests.size()).isZero();
        assertThat(requests.all()).isEmpty();
    }

    @Test
    void theStandingIsAskedOnlyWhileQueuedAndDispatchFixesTheWait() {
        Standing now = new Standing(2, Tier.HIGH, 1_000_000, 20_000_000_000L);
        QueueRequests.Entry e = requests.track("job", "alice", Tier.NORMAL, () -> now);
        e.queuedAt(3);

        assertThat(e.standing()).isSameAs(now);
        assertThat(e.admissionPosition()).isEqualTo(3);

        e.dispatched(5_000_000, 3);

        assertThat(e.state()).isEqualTo(QueueRequests.State.DISPATCHED);
        assertThat(e.standing()).isNull();
        assertThat(e.waitedNanos()).isEqualTo(5_000_000);
    }

    @Test
    void oneClientKeepsAtMostSixteenEntriesUnderOneIdAndAnotherClientsAreUntouched() {
        QueueRequests.Entry victim = requests.track("same", "victim", Tier.HIGH, () -> null);
        List<QueueRequests.Entry> flood = new ArrayList<>();
        for (int i = 0; i < QueueRequests.MAX_PER_ID; i++) {
            flood.add(requests.track("same", "attacker", Tier.LOW, () -> null));
        }

        assertThat(flood).doesNotContainNull();
        assertThat(requests.track("same", "attacker", Tier.LOW, () -> null)).as("the 17th").isNull();
        assertThat(requests.track("same", "victim", Tier.LOW, () -> null)).as("its own bound").isNotNull().isNotSameAs(victim);
        assertThat(requests.find("same", "attacker")).isSameAs(flood.get(flood.size() - 1));
        assertThat(requests.size()).isEqualTo(QueueRequests.MAX_PER_ID + 2);

        flood.forEach(QueueRequests.Entry::end);
        assertThat(requests.find("same", "attacker")).as("like an unknown id").isNull();
        assertThat(requests.track("same", "attacker", Tier.LOW, () -> null)).as("room again").isNotNull();
    }

    @Test
    void pastTheBoundNewRequestsAreNotTracked() {
        for (int i = 0; i < QueueRequests.MAX_TRACKED; i++) {
            assertThat(requests.track("r" + i, "c", Tier.LOW, () -> null)).isNotNull();
        }

        assertThat(requests.track("one-more", "c", Tier.LOW, () -> null)).isNull();
        assertThat(requests.size()).isEqualTo(QueueRequests.MAX_TRACKED);
        requests.find("r0", "c").end();
        assertThat(requests.track("one-more", "c", Tier.LOW, () -> null)).isNotNull();
    }
}
