package dev.oqp.queue.coordination;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.queue.server.QueueProxy;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** A replica that stops leaves at once; waiters of replicas that died are swept by the heartbeat. */
class LeaveEndToEndTest extends ReplicasTestBase {

    @Test
    void aStoppedReplicaGivesBackItsSlotAndLeavesTheReplicasAtOnce() throws Exception {
        FakeOllama gpu = Replicas.host().tokens(List.of("a")).firstByteDelay(Duration.ofMillis(4000)).start();
        hosts.add(gpu);
        QueueProxy a = replicas.start(Replicas.yaml(redis.url(), "A", "", "gpu-1", gpu.baseUri(), 1));
        QueueProxy b = replicas.start(Replicas.yaml(redis.url(), "B", "", "gpu-1", gpu.baseUri(), 1));
        CompletableFuture<HttpResponse<String>> running = send(a, "running");
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> gpu.inFlight() == 1);
        CompletableFuture<HttpResponse<String>> waitingHere = send(a, "waiting-on-a");
        CompletableFuture<HttpResponse<String>> waitingThere = send(b, "waiting-on-b");
        Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> redis.command("ZCARD {oqp:coord:}waiting")
                .equals(":2"));
        long stopping = System.nanoTime();
        a.stop();
        long stopped = System.nanoTime();
        String stillListed = redis.command("ZSCORE {oqp:coord:}replicas A");
        String waiters = redis.command("ZCARD {oqp:coord:}waiting");
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> gpu.requests().stream()
                .anyMatch(r -> r.bodyAsString().contains("waiting-on-b")));
        long dispatched = gpu.requests().stream().filter(r -> r.bodyAsString().contains("waiting-on-b"))
                .mapToLong(RecordedRequest::receivedNanos).min().orElseThrow();
        System.out.printf("coordination stop: took %.1fs (drain 1s), A listed right after: %s, waiters left %s,"
                + " B's waiter dispatched %.2fs after A's stop began%n", (stopped - stopping) / 1e9, stillListed,
                waiters, (dispatched - stopping) / 1e9);
        assertThat(stillListed).isEqualTo("$-1");
        // A's waiter is gone; B's may already have its slot.
        assertThat(waiters).isIn(":0", ":1");
        assertThat(dispatched - stopped).isLessThan(1_000_000_000L);
        assertThat(waitingThere.join().statusCode()).isEqualTo(200);
        // The running request was cut by A's drain (1 s): its slot went back with A's stop.
        running.handle((r, e) -> r).join();
        assertThat(waitingHere.handle((r, e) -> r == null ? 0 : r.statusCode()).join()).isNotEqualTo(200);
    }

    @Test
    void aDeadReplicasLowRankedWaiterIsSweptByTheHeartbeat() throws Exception {
        FakeOllama gpu = Replicas.host().start();
        hosts.add(gpu);
        redis.command("ZADD {oqp:coord:}waiting 99999999999999 ghost:w1");
        redis.command("HSET {oqp:coord:}waiter-data ghost:w1 \"ghost@dead\\nc\\n0\\ngpu-1\"");
        replicas.start(Replicas.yaml(redis.url(), "A", "", "gpu-1", gpu.baseUri(), 1));
        long started = System.nanoTime();
        Awaitility.await().atMost(Duration.ofSeconds(3)).until(() -> redis.command("ZCARD {oqp:coord:}waiting")
                .equals(":0") && redis.command("HLEN {oqp:coord:}waiter-data").equals(":0"));
        System.out.printf("coordination: a dead replica's low waiter swept %.1fs after a replica started%n",
                (System.nanoTime() - started) / 1e9);
    }

    private CompletableFuture<HttpResponse<String>> send(QueueProxy p, String prompt) {
        return replicas.http.sendAsync(Replicas.generate(p, "c", "normal", prompt), HttpResponse.BodyHandlers.ofString());
    }
}
