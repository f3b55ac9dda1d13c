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
import dev.oqp.queue.server.QueueProxy;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.sync.RedisCommands;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** Many waiting (client, model) pairs on a full host: the acquires sent per pass are capped. */
class AcquireBudgetEndToEndTest extends ReplicasTestBase {

    @Test
    void thirtyWaitingPairsOnAFullHostSendAFewAcquiresPerPassNotThirty() throws Exception {
        String[] models = new String[11];
        for (int i = 0; i < 10; i++) {
            models[i] = "m" + i;
        }
        models[10] = "m";
        FakeOllama gpu = FakeOllama.builder().installed(models).loaded(models).tokens(List.of("a"))
                .firstByteDelay(Duration.ofMillis(5000)).start();
        hosts.add(gpu);
        QueueProxy proxy = replicas.start(Replicas.yaml(redis.url(), "A", "", "gpu-1", gpu.baseUri(), 1));
        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        answers.add(send(proxy, "c", "m"));
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> gpu.inFlight() == 1);
        for (String client : List.of("a", "b", "c")) {
            for (int i = 0; i < 10; i++) {
                answers.add(send(proxy, client, "m" + i));
            }
        }
        RedisClient client = RedisClient.create(redis.url());
        try {
            RedisCommands<String, String> sync = client.connect().sync();
            Thread.sleep(500);
            long before = scripts(sync.info("commandstats"));
            Thread.sleep(2000);
            long sent = scripts(sync.info("commandstats")) - before;
            System.out.printf("coordination acquire budget: 30 waiting pairs on a full host, %d script calls in 2 s"
                    + " (acquires, heartbeats, renewals; 30 per 250 ms pass would be 240)%n", sent);
            assertThat(sent).isLessThan(60);
        } finally {
            client.shutdown();
        }
        answers.forEach(a -> a.cancel(true));
    }

    /** EVALSHA and EVAL calls so far. */
    private static long scripts(String info) {
        long n = 0;
        for (String line : info.split("\r?\n")) {
            if (line.startsWith("cmdstat_evalsha:calls=") || line.startsWith("cmdstat_eval:calls=")) {
                n += Long.parseLong(line.substring(line.indexOf('=') + 1, line.indexOf(',')));
            }
        }
        return n;
    }

    private CompletableFuture<HttpResponse<String>> send(QueueProxy p, String client, String model) {
        return replicas.http.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + p.port()
                + "/api/generate")).header("Authorization", "Bearer " + Replicas.key(client))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model + "\",\"prompt\":\"" + client
                        + " x\",\"stream\":false}"))
                .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
