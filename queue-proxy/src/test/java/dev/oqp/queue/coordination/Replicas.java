package dev.oqp.queue.coordination;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.Target;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.common.testing.TestSockets;
import dev.oqp.queue.server.QueueProxy;

/**
 * Queue proxies sharing one Valkey, each with its own config and {@code replica_id}, in this JVM; and what the fake
 * hosts saw, per host and per client (the client is the first word of each prompt).
 */
final class Replicas implements AutoCloseable {
    static final String KEY_A = "key-for-client-a-0123456789abcdef";
    static final String KEY_B = "key-for-client-b-0123456789abcdef";
    static final String KEY_C = "key-for-client-c-0123456789abcdef";
    static final String KEY_ADMIN = "key-for-the-admin-0123456789abcdef";

    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private final List<QueueProxy> proxies = new ArrayList<>();

    /** The YAML of one replica: hosts given as name, url, slots; clients a (cap 2), b (cap 3), c (no cap). */
    static String yaml(String backend, String replicaId, String extraCoordination, Object... hosts) {
        StringBuilder b = new StringBuilder();
        b.append("proxy:\n  host: 127.0.0.1\n  port: ").append(TestSockets.freePort()).append("\n  drain_timeout: 1s\n");
        b.append("ollama:\n  health_check_interval: 1s\n  hosts:\n");
        for (int i = 0; i < hosts.length; i += 3) {
            b.append("    - name: ").append(hosts[i]).append("\n      url: ").append(hosts[i + 1])
                    .append("\n      max_concurrent: ").append(hosts[i + 2]).append('\n');
        }
        b.append("auth:\n  keys:\n");
        b.append("    - { client_id: a, key: ").append(KEY_A).append(", max_priority: high, max_concurrent: 2 }\n");
        b.append("    - { client_id: b, key: ").append(KEY_B).append(", max_priority: high, max_concurrent: 3 }\n");
        b.append("    - { client_id: c, key: ").append(KEY_C).append(", max_priority: high }\n");
        b.append("    - { client_id: admin, key: ").append(KEY_ADMIN).append(", scope: management }\n");
        b.append("coordination:\n  backend: ").append(backend).append("\n  replica_id: ").append(replicaId)
                .append("\n  heartbeat: 500ms\n  timeout: 300ms\n").append(extraCoordination);
        b.append("logging:\n  level: warn\n  access_log: false\n");
        return b.toString();
    }

    QueueProxy start(String yaml) throws Exception {
        OqpConfig config = ConfigLoader.parse(yaml, Target.QUEUE_PROXY, Map.of());
        QueueProxy proxy = new QueueProxy(config);
        proxy.start();
        proxies.add(proxy);
        return proxy;
    }

    static String key(String client) {
        return switch (client) {
            case "a" -> KEY_A;
            case "b" -> KEY_B;
            default -> KEY_C;
        };
    }

    static HttpRequest generate(QueueProxy proxy, String client, String tier, String prompt) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port() + "/api/generate"))
                .header("Authorization", "Bearer " + key(client)).header("X-Queue-Priority", tier)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m\",\"prompt\":\"" + client + " " + prompt
                        + "\",\"stream\":false}"))
                .timeout(Duration.ofSeconds(60)).build();
    }

    static FakeOllama.Builder host() {
        return FakeOllama.builder().installed("m").loaded("m");
    }

    /**
     * How long the fake may take, after the proxy has read a response's last byte, to count that exchange as
     * ended: its write callback runs on its own thread, which a loaded machine can delay by milliseconds while a
     * replica has already released the slot and another dispatched into it. Two requests count as running at
     * once only when they overlap by more than this; a real overshoot (one slot held twice) overlaps for a whole
     * request, several times longer.
     */
    static final long END_LAG_NANOS = 3_000_000;

    /** Per host name: the highest number of requests it ran at once, overlapping by more than the end lag. */
    static int maxConcurrency(FakeOllama host) {
        return maxPerClient(List.of(host), r -> "all").getOrDefault("all", 0);
    }

    /**
     * The longest stretch, in microseconds, during which the fake's raw record (to its own end of each exchange)
     * shows more than {@code cap} requests at once: evidence of what the end lag covers.
     */
    static long longestAboveMicros(FakeOllama host, int cap) {
        List<long[]> events = new ArrayList<>();
        for (RecordedRequest r : host.requests()) {
            if (!r.probe() && r.path().equals("/api/generate") && r.finished()) {
                events.add(new long[] {r.receivedNanos(), 1});
                events.add(new long[] {r.completedNanos(), -1});
            }
        }
        events.sort((x, y) -> x[0] != y[0] ? Long.compare(x[0], y[0]) : Long.compare(x[1], y[1]));
        int now = 0;
        long since = 0;
        long longest = 0;
        for (long[] e : events) {
            int before = now;
            now += (int) e[1];
            if (before <= cap && now > cap) {
                since = e[0];
            } else if (before > cap && now <= cap) {
                longest = Math.max(longest, e[0] - since);
            }
        }
        return longest / 1000;
    }

    /** The highest number of requests of each client the hosts ran at once, over all of them together. */
    static Map<String, Integer> maxPerClient(List<FakeOllama> hosts) {
        return maxPerClient(hosts, r -> r.bodyJson().get("prompt").asText().split(" ")[0]);
    }

    static Map<String, Integer> maxPerClient(List<FakeOllama> hosts,
            java.util.function.Function<RecordedRequest, String> key) {
        List<long[]> events = new ArrayList<>();
        List<String> who = new ArrayList<>();
        for (FakeOllama h : hosts) {
            for (RecordedRequest r : h.requests()) {
                if (r.probe() || !r.path().equals("/api/generate") || !r.finished()) {
                    continue;
                }
                String client = key.apply(r);
                long end = Math.max(r.receivedNanos(), r.completedNanos() - END_LAG_NANOS);
                events.add(new long[] {r.receivedNanos(), 1, who.size()});
                events.add(new long[] {end, -1, who.size()});
                who.add(client);
            }
        }
        // Ends before starts at the same instant.
        events.sort((x, y) -> x[0] != y[0] ? Long.compare(x[0], y[0]) : Long.compare(x[1], y[1]));
        Map<String, Integer> now = new HashMap<>();
        Map<String, Integer> max = new TreeMap<>();
        for (long[] e : events) {
            String c = who.get((int) e[2]);
            int n = now.merge(c, (int) e[1], Integer::sum);
            max.merge(c, n, Math::max);
        }
        return max;
    }

    void stop(QueueProxy proxy) throws Exception {
        proxy.stop();
        proxies.remove(proxy);
    }

    @Override
    public void close() {
        for (QueueProxy p : proxies) {
            try {
                p.stop();
            } catch (Exception ignored) {
                // best effort
            }
        }
    }
}
