package dev.oqp.queue.coordination;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.Fault;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.queue.server.QueueProxy;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * Three replicas sharing one Redis share what they learn of the hosts: a host one of them found down, how busy each
 * host is over all of them, and which host is loading a cold model.
 */
class SharedHealthEndToEndTest extends ReplicasTestBase {

    /** A replica whose own checks of healthy hosts are 30 s apart: it learns of a host down only from the others. */
    private QueueProxy replica(String id, String routing, Object... hostArgs) throws Exception {
        String yaml = Replicas.yaml(redis.url(), id, "", hostArgs)
                .replace("health_check_interval: 1s\n", "health_check_interval: 30s\n  model_sync_interval: 60s\n")
                + routing;
        return replicas.start(yaml);
    }

    @Test
    void aHostDownAtOneReplicaIsAvoidedByTheOthersWithoutAFailedRequestAndComesBack() throws Exception {
        FakeOllama gpu1 = host(Replicas.host());
        FakeOllama gpu2 = host(Replicas.host());
        // gpu-2 first: each replica sends its next request there while it counts as healthy.
        Object[] fleet = {"gpu-2", gpu2.baseUri(), 4, "gpu-1", gpu1.baseUri(), 4};
        QueueProxy a = replica("A", "", fleet);
        QueueProxy b = replica("B", "", fleet);
        QueueProxy c = replica("C", "", fleet);
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> healthy(a, "gpu-2") && healthy(b, "gpu-2")
                && healthy(c, "gpu-2"));

        gpu2.fault(Fault.refuseConnections());
        // A finds out with a request of its own, which fails over to gpu-1.
        assertThat(send(a, "c", "a0").statusCode()).isEqualTo(200);
        long downAt = System.nanoTime();
        assertThat(failures(a, "gpu-2")).as("A's own failed request").isGreaterThanOrEqualTo(1);
        Awaitility.await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(2))
                .until(() -> !healthy(b, "gpu-2") && !healthy(c, "gpu-2"));
        double learnedMs = (System.nanoTime() - downAt) / 1e6;
        for (int i = 0; i < 10; i++) {
            assertThat(send(b, "c", "b" + i).statusCode()).isEqualTo(200);
            assertThat(send(c, "c", "c" + i).statusCode()).isEqualTo(200);
        }
        System.out.printf("shared down mark: B and C saw gpu-2 down %.1f ms after A's failed request; failures at"
                + " gpu-2: A %d, B %d, C %d; gpu-1 served B %d/10, C %d/10%n", learnedMs, failures(a, "gpu-2"),
                failures(b, "gpu-2"), failures(c, "gpu-2"), served(gpu1, "b"), served(gpu1, "c"));
        assertThat(failures(b, "gpu-2")).as("B's failed requests").isZero();
        assertThat(failures(c, "gpu-2")).as("C's failed requests").isZero();
        assertThat(served(gpu1, "b")).isEqualTo(10);
        assertThat(served(gpu1, "c")).isEqualTo(10);
        assertThat(redis.command("EXISTS {oqp:coord:}down:gpu-2")).isEqualTo(":1");

        // Back: every replica's own probe (each second while down) finds it and the mark is cleared.
        gpu2.fault(Fault.none());
        long upAt = System.nanoTime();
        Awaitility.await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(10))
                .until(() -> healthy(a, "gpu-2") && healthy(b, "gpu-2") && healthy(c, "gpu-2"));
        double recoveredMs = (System.nanoTime() - upAt) / 1e6;
        assertThat(redis.command("EXISTS {oqp:coord:}down:gpu-2")).isEqualTo(":0");
        for (int i = 0; i < 4; i++) {
            assertThat(send(b, "c", "again" + i).statusCode()).isEqualTo(200);
        }
        System.out.printf("shared down mark: gpu-2 healthy again at all three replicas %.0f ms after it answered;"
                + " it served B %d of 4 since%n", recoveredMs, served(gpu2, "again"));
        assertThat(served(gpu2, "again")).isGreaterThanOrEqualTo(1);
        assertThat(failures(b, "gpu-2")).isZero();
    }

    @Test
    void aFailoverMovesTheSharedSlotSoAnotherReplicaDoesNotOvercommitTheNewHost() throws Exception {
        FakeOllama gpu1 = host(Replicas.host());
        // Only gpu-1 has the model in memory: model_aware sends A's request there first.
        FakeOllama gpu2 = host(FakeOllama.builder().installed("m").firstByteDelay(Duration.ofMillis(2000)));
        Object[] fleet = {"gpu-1", gpu1.baseUri(), 1, "gpu-2", gpu2.baseUri(), 1};
        QueueProxy a = replica("A", "", fleet);
        QueueProxy b = replica("B", "", fleet);
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> healthy(a, "gpu-1") && healthy(b, "gpu-1")
                && healthy(a, "gpu-2") && healthy(b, "gpu-2"));

        gpu1.fault(Fault.refuseConnections());
        CompletableFuture<HttpResponse<String>> first = sendAsync(a, "c", "moved");
        gpu2.awaitRequests(1, Duration.ofSeconds(5));
        // The request runs on gpu-2 now, and so does its shared slot.
        Awaitility.await().atMost(Duration.ofSeconds(1)).untilAsserted(() -> {
            assertThat(redis.command("ZCARD {oqp:coord:}host:gpu-2")).isEqualTo(":1");
            assertThat(redis.command("ZCARD {oqp:coord:}host:gpu-1")).isEqualTo(":0");
        });
        Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> !healthy(b, "gpu-1"));
        // B may use gpu-2 only: it waits for the slot A's request holds there instead of running beside it.
        HttpResponse<String> second = send(b, "c", "after");
        assertThat(first.join().statusCode()).isEqualTo(200);
        assertThat(first.join().headers().firstValue("X-Failover-Attempts")).hasValue("2");
        assertThat(second.statusCode()).isEqualTo(200);
        assertThat(Replicas.maxConcurrency(gpu2)).isEqualTo(1);
    }

    @Test
    void leastBusyCountsTheRequestsOfTheOtherReplicas() throws Exception {
        FakeOllama gpu1 = host(Replicas.host().tokens(List.of("x")).firstByteDelay(Duration.ofSeconds(3)));
        FakeOllama gpu2 = host(Replicas.host());
        String routing = "routing:\n  strategy: least_busy\n";
        // A knows only gpu-1, so its three requests all run there.
        QueueProxy a = replica("A", routing, "gpu-1", gpu1.baseUri(), 4);
        QueueProxy b = replica("B", routing, "gpu-1", gpu1.baseUri(), 4, "gpu-2", gpu2.baseUri(), 4);
        List<CompletableFuture<HttpResponse<String>>> busy = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            busy.add(sendAsync(a, "c", "busy" + i));
        }
        gpu1.awaitRequests(3, Duration.ofSeconds(5));
        // One heartbeat's snapshot later, B knows gpu-1 runs three requests; alone it would choose gpu-1 first.
        Thread.sleep(800);
        for (int i = 0; i < 2; i++) {
            assertThat(send(b, "c", "fromb" + i).statusCode()).isEqualTo(200);
        }
        busy.forEach(f -> assertThat(f.join().statusCode()).isEqualTo(200));
        System.out.printf("shared least_busy: with 3 of A's requests on gpu-1, B sent %d of 2 to gpu-2%n",
                served(gpu2, "fromb"));
        assertThat(served(gpu2, "fromb")).isEqualTo(2);
        assertThat(served(gpu1, "fromb")).isZero();
    }

    @Test
    void aColdModelRequestedAtThreeReplicasAtOnceIsLoadedOnOneHostOnly() throws Exception {
        // "m" is installed on both hosts and loaded on none; each has one slot, so a race would load it on both.
        FakeOllama gpu1 = host(FakeOllama.builder().installed("m").firstByteDelay(Duration.ofMillis(500)));
        FakeOllama gpu2 = host(FakeOllama.builder().installed("m").firstByteDelay(Duration.ofMillis(500)));
        Object[] fleet = {"gpu-1", gpu1.baseUri(), 1, "gpu-2", gpu2.baseUri(), 1};
        List<QueueProxy> all = List.of(replica("A", "", fleet), replica("B", "", fleet), replica("C", "", fleet));
        // Every replica has seen both hosts' models (its first sync): before that a host's models are unknown,
        // not cold, and a loaded machine could send the first requests before it.
        for (QueueProxy p : all) {
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> {
                String m = metrics(p);
                return m.contains("oqp_host_models_installed{host=\"gpu-1\"} 1.0")
                        && m.contains("oqp_host_models_installed{host=\"gpu-2\"} 1.0")
                        && healthy(p, "gpu-1") && healthy(p, "gpu-2");
            });
        }
        long started = System.nanoTime();
        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            answers.add(sendAsync(all.get(i), "c", "cold" + i));
        }
        answers.forEach(f -> assertThat(f.join().statusCode()).isEqualTo(200));
        double seconds = (System.nanoTime() - started) / 1e9;
        int on1 = served(gpu1, "cold");
        int on2 = served(gpu2, "cold");
        System.out.printf("cold-load coalescing: 3 requests for a cold model at 3 replicas at once: gpu-1 %d,"
                + " gpu-2 %d (loaded: %b / %b) in %.2f s%n", on1, on2, gpu1.isLoaded("m"), gpu2.isLoaded("m"), seconds);
        assertThat(List.of(on1, on2)).containsExactlyInAnyOrder(3, 0);
        assertThat(gpu1.isLoaded("m") ^ gpu2.isLoaded("m")).as("loaded on exactly one host").isTrue();
    }

    private HttpResponse<String> send(QueueProxy p, String client, String prompt) throws Exception {
        return replicas.http.send(Replicas.generate(p, client, "normal", prompt), HttpResponse.BodyHandlers.ofString());
    }

    private CompletableFuture<HttpResponse<String>> sendAsync(QueueProxy p, String client, String prompt) {
        return replicas.http.sendAsync(Replicas.generate(p, client, "normal", prompt),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Inference requests the fake received whose prompt (after the client word) starts with {@code prefix}. */
    private static int served(FakeOllama host, String prefix) {
        int n = 0;
        for (RecordedRequest r : host.requests()) {
            if (!r.probe() && r.path().equals("/api/generate")
                    && r.bodyJson().path("prompt").asText().substring(2).startsWith(prefix)) {
                n++;
            }
        }
        return n;
    }

    private boolean healthy(QueueProxy p, String host) {
        return metrics(p).contains("oqp_host_healthy{host=\"" + host + "\",name=\"" + host + "\"} 1.0");
    }

    private int failures(QueueProxy p, String host) {
        Matcher m = Pattern.compile("oqp_host_failures_total\\{host=\"" + host + "\",name=\"" + host
                + "\"} ([0-9.]+)").matcher(metrics(p));
        return m.find() ? (int) Double.parseDouble(m.group(1)) : 0;
    }

    private String metrics(QueueProxy p) {
        try {
            return replicas.http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.port() + "/metrics"))
                    .header("Authorization", "Bearer " + Replicas.KEY_A).build(), HttpResponse.BodyHandlers.ofString())
                    .body();
        } catch (Exception e) {
            return "";
        }
    }
}
