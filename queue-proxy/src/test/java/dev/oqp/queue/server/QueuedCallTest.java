package dev.oqp.queue.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;

import dev.oqp.common.config.Scope;
import dev.oqp.common.config.Tier;
import dev.oqp.queue.auth.Client;
import org.junit.jupiter.api.Test;

/** The queued phase of one request, with no server: a recording sender and a scheduler on a hand-moved clock. */
class QueuedCallTest {
    private static final String ONE_SLOT = """
            ollama:
              hosts:
                - {name: gpu, url: "http://127.0.0.1:9", max_concurrent: 1}
            queue:
              normal: {max_depth: 1, max_wait: 30s}
              aging: 0
            """;
    private static final Client ALICE = new Client("alice", Scope.INFERENCE, Tier.HIGH, 0, List.of());
    private static final Client BOB = new Client("bob", Scope.INFERENCE, Tier.HIGH, 0, List.of());

    @Test
    void aFreeSlotSendsTheCallAtOnceWithItsHostAndNoWait() throws Exception {
        IntakeBench bench = new IntakeBench(ONE_SLOT);

        Call call = bench.queued(ALICE).call();

        assertThat(bench.sent).containsExactly(call);
        assertThat(call.host().name()).isEqualTo("gpu");
        assertThat(call.waitedNanos).isZero();
        assertThat(bench.pool.inFlight()).isEqualTo(1);
    }

    @Test
    void aQueuedCallIsSentWhenTheSlotAheadIsReleasedAndWaitIsMeasuredOnTheQueueClock() throws Exception {
        IntakeBench bench = new IntakeBench(ONE_SLOT);
        Call first = bench.queued(ALICE).call();
        Call second = bench.queued(BOB).call();
        assertThat(bench.sent).containsExactly(first);

        bench.nanos += Duration.ofMillis(1500).toNanos();
        first.grant.release();

        assertThat(bench.sent).containsExactly(first, second);
        assertThat(second.waitedNanos).isEqualTo(Duration.ofMillis(1500).toNanos());
        first.grant.release();
        assertThat(bench.pool.inFlight()).as("a second release gives nothing back twice").isEqualTo(1);
    }

    @Test
    void aCallPastMaxWaitIsAnswered503WithRetryAfterAndRecordedOnce() throws Exception {
        IntakeBench bench = new IntakeBench(ONE_SLOT);
        bench.queued(ALICE);
        FakeExchange waiting = bench.queued(BOB).exchange();

        bench.nanos += Duration.ofSeconds(31).toNanos();
        bench.scheduler.expireDue();

        assertThat(waiting.status).isEqualTo(503);
        assertThat(waiting.responseHeaders.get("Retry-After")).isEqualTo("5");
        assertThat(waiting.responseHeaders.get("X-Queue-Priority")).isEqualTo("normal");
        assertThat(waiting.writtenText()).contains("longer than max_wait (30s for priority normal)");
        assertThat(waiting.completions).hasValue(1);
        assertThat(bench.recorded("bob", 503)).isEqualTo(1.0);
        assertThat(bench.sent).hasSize(1);
    }

    @Test
    void aClientThatLeavesWhileQueuedIsCancelledNeverSentAndRecordedAs499() throws Exception {
        IntakeBench bench = new IntakeBench(ONE_SLOT);
        Call first = bench.queued(ALICE).call();
        FakeExchange leaving = bench.queued(BOB).exchange();

        leaving.clientLeaves();
        first.grant.release();

        assertThat(bench.sent).containsExactly(first);
        assertThat(leaving.failure).isNotNull();
        assertThat(leaving.written).as("nothing written to a client that left").isNull();
        assertThat(bench.recorded("bob", 499)).isEqualTo(1.0);
        assertThat(bench.pool.inFlight()).isZero();
    }

    @Test
    void aFullTierAnswersTheOverflowStatusWithRetryAfter() throws Exception {
        IntakeBench bench = new IntakeBench(ONE_SLOT);
        bench.queued(ALICE);
        bench.queued(BOB);
        FakeExchange third = bench.queued(BOB).exchange();

        assertThat(third.status).isEqualTo(503);
        assertThat(third.responseHeaders.get("Retry-After")).isNotNull();
        assertThat(third.writtenText()).contains("queue full for priority normal");
        assertThat(bench.sent).hasSize(1);
    }
}
