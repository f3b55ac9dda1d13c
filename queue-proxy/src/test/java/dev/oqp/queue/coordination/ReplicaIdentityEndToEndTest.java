package dev.oqp.queue.coordination;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.queue.server.QueueProxy;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** A replica restarted under the same id does not inherit its predecessor's waiters; two live ones are flagged. */
class ReplicaIdentityEndToEndTest extends ReplicasTestBase {

    @Test
    void aRestartedReplicaDoesNotReviveItsDeadPredecessorsBetterRankedWaiter() throws Exception {
        FakeOllama gpu = Replicas.host().tokens(List.of("a")).firstByteDelay(Duration.ofMillis(1000)).start();
        hosts.add(gpu);
        QueueProxy a = replicas.start(Replicas.yaml(redis.url(), "A", "", "gpu-1", gpu.baseUri(), 1));
        QueueProxy b = replicas.start(Replicas.yaml(redis.url(), "B", "", "gpu-1", gpu.baseUri(), 1));
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> count(get(a, "/queue/status"), "\"live\":true") == 2);
        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        answers.add(send(b, "first"));
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> gpu.inFlight() == 1);
        answers.add(send(b, "older"));
        Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> !redis.command("ZCARD {oqp:coord:}waiting").equals(":0"));
        // What a predecessor "A" killed while its first request waited left behind: the best rank there is.
        redis.command("ZADD {oqp:coord:}waiting 0 A:w1");
        redis.command("HSET {oqp:coord:}waiter-data A:w1 \"A@dead\\nc\\n0\\ngpu-1\"");
        answers.add(send(a, "newer"));
        for (CompletableFuture<HttpResponse<String>> r : answers) {
            assertThat(r.join().statusCode()).isEqualTo(200);
        }
        List<String> order = gpu.requests().stream().filter(r -> r.path().equals("/api/generate"))
                .sorted(java.util.Comparator.comparingLong(RecordedRequest::receivedNanos))
                .map(r -> r.bodyAsString().contains("older") ? "older" : r.bodyAsString().contains("newer") ? "newer" : "first")
                .toList();
        System.out.printf("coordination waiter ids: dispatch order after a dead predecessor's entry %s%n", order);
        assertThat(order).containsExactly("first", "older", "newer");
    }

    @Test
    void twoLiveProcessesWithOneReplicaIdAreWarnedOnce() throws Exception {
        FakeOllama gpu = Replicas.host().start();
        hosts.add(gpu);
        replicas.start(Replicas.yaml(redis.url(), "same", "", "gpu-1", gpu.baseUri(), 1));
        replicas.start(Replicas.yaml(redis.url(), "same", "", "gpu-1", gpu.baseUri(), 1));
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> twins() == 2);
        Thread.sleep(1500);
        System.out.printf("coordination twin replica ids: %d warnings from 2 processes in 1.5 s of heartbeats%n", twins());
        assertThat(twins()).isEqualTo(2);
    }

    @Test
    void aReplicaEntryItCannotReadIsSkippedAndLoggedOnceAndTheReplicaIsShared() throws Exception {
        FakeOllama gpu = Replicas.host().start();
        hosts.add(gpu);
        // Another writer's entry (an older version, a hand edit): its start time is not a number.
        redis.command("ZADD {oqp:coord:}replicas 99999999999999 odd");
        redis.command("HSET {oqp:coord:}replica-data odd \"abc\\nnot-a-number\"");
        QueueProxy a = replicas.start(Replicas.yaml(redis.url(), "A", "", "gpu-1", gpu.baseUri(), 1));
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> get(a, "/queue/status").contains("\"state\":\"shared\""));
        Thread.sleep(1500);
        long logged = log.list.stream().filter(e -> e.getFormattedMessage().contains("replica entry not understood"))
                .count();
        System.out.printf("coordination malformed replica entry: shared, logged %d time(s) over 1.5 s of heartbeats%n",
                logged);
        assertThat(logged).isEqualTo(1);
        assertThat(send(a, "after").join().statusCode()).isEqualTo(200);
    }

    private long twins() {
        return log.list.stream().filter(e -> e.getFormattedMessage().contains("another live process has replica_id"))
                .count();
    }

    private CompletableFuture<HttpResponse<String>> send(QueueProxy p, String prompt) {
        return replicas.http.sendAsync(Replicas.generate(p, "c", "normal", prompt), HttpResponse.BodyHandlers.ofString());
    }

    private static int count(String s, String part) {
        return s.split(java.util.regex.Pattern.quote(part), -1).length - 1;
    }

    private String get(QueueProxy p, String path) {
        try {
            return replicas.http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.port() + path))
                    .header("Authorization", "Bearer " + Replicas.KEY_A).build(), HttpResponse.BodyHandlers.ofString())
                    .body();
        } catch (Exception e) {
            return "";
        }
    }
}
