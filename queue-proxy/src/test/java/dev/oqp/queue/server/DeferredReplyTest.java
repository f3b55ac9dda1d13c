package dev.oqp.queue.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import dev.oqp.common.config.Scope;
import dev.oqp.common.config.Tier;
import dev.oqp.queue.admin.AdminEndpoints;
import dev.oqp.queue.auth.Client;
import dev.oqp.queue.limits.UsageLedger;
import org.eclipse.jetty.util.thread.ScheduledExecutorScheduler;
import org.junit.jupiter.api.Test;

/** A drain's deferred answer: written once the tier is empty, or never, and no more looking, once its caller left. */
class DeferredReplyTest {
    private static final String ONE_SLOT = """
            ollama:
              hosts:
                - {name: gpu, url: "http://127.0.0.1:9", max_concurrent: 1}
            queue:
              normal: {max_depth: 2, max_wait: 30s}
              aging: 0
            """;
    private static final Client ALICE = new Client("alice", Scope.INFERENCE, Tier.HIGH, 0, List.of());
    private static final Client BOB = new Client("bob", Scope.INFERENCE, Tier.HIGH, 0, List.of());
    private static final Client OPS = new Client("ops", Scope.MANAGEMENT, Tier.HIGH, 0, List.of());

    /** A timer that runs nothing by itself: the test runs what was scheduled, one round at a time. */
    private static final class HandTimer extends ScheduledExecutorScheduler {
        final List<Runnable> due = new ArrayList<>();

        @Override
        public Task schedule(Runnable task, long delay, TimeUnit unit) {
            due.add(task);
            return () -> false;
        }

        int runDue() {
            List<Runnable> now = new ArrayList<>(due);
            due.clear();
            now.forEach(Runnable::run);
            return now.size();
        }
    }

    private final HandTimer timer = new HandTimer();

    /** {@code POST /queue/drain?tier=normal} as the gate answers it, with one request in flight and one waiting. */
    private FakeExchange drain(IntakeBench bench) {
        AdminEndpoints admin = new AdminEndpoints(bench.scheduler, bench.pool, bench.fleet, bench.metrics,
                new UsageLedger(Clock.systemUTC()), () -> false, timer);
        FakeExchange exchange = new FakeExchange("POST", "/queue/drain", "");
        Call call = bench.call(exchange, OPS);
        Gate.reply(call, admin.authorized("/queue/drain", OPS, "normal", bench.config, Set.of(), null));
        return exchange;
    }

    @Test
    void aDrainWhoseCallerLeftStopsLookingAndIsRecorded499WithNothingWritten() throws Exception {
        IntakeBench bench = new IntakeBench(ONE_SLOT);
        bench.queued(ALICE);
        bench.queued(BOB);
        FakeExchange drain = drain(bench);
        assertThat(timer.runDue()).isEqualTo(1);
        assertThat(timer.due).as("a request still waits: it looks again").hasSize(1);

        drain.clientLeaves();
        timer.runDue();

        assertThat(timer.due).as("no look after the caller left").isEmpty();
        assertThat(drain.written).isNull();
        assertThat(drain.failure).isNotNull();
        assertThat(drain.completions).hasValue(1);
        assertThat(bench.recorded("ops", 499)).isEqualTo(1.0);
    }

    @Test
    void aDrainWhoseCallerStaysIsAnsweredOnceTheTierIsEmpty() throws Exception {
        IntakeBench bench = new IntakeBench(ONE_SLOT);
        Call first = bench.queued(ALICE).call();
        bench.queued(BOB);
        FakeExchange drain = drain(bench);
        timer.runDue();
        assertThat(drain.written).isNull();

        first.grant.release();
        timer.runDue();

        assertThat(timer.due).isEmpty();
        assertThat(drain.status).isEqualTo(200);
        assertThat(drain.writtenText()).contains("\"status\":\"drained\"").contains("\"tier\":\"normal\"");
        assertThat(bench.recorded("ops", 200)).isEqualTo(1.0);
    }
}
