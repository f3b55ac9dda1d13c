package dev.oqp.queue.server;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import dev.oqp.common.config.ConfigException;
import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.Target;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.TestSockets;
import dev.oqp.queue.scheduler.Ticks;

/**
 * Starts queue proxies from YAML on free loopback ports in front of fake Ollamas, and talks to them; closes
 * everything it started.
 *
 * <p>Every listener of a proxy started by {@link #start} binds port 0, so the kernel picks a free port when it binds
 * (no window in which another process can take a port picked earlier); tests read the bound ports back with
 * {@link QueueProxy#port()} and {@link QueueProxy#port(String)}. The ports in the YAML only satisfy the config's
 * checks (1024-65535, unique) and are never bound: a test that writes one uses {@link #PLACEHOLDER_PORT}.
 */
final class QueueFixture implements AutoCloseable {
    /** A listen port for a test's YAML where the config requires one: {@link #start} binds port 0 instead. */
    static final int PLACEHOLDER_PORT = 11436;

    final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private final List<QueueProxy> started = new ArrayList<>();
    private final List<FakeOllama> upstreams = new ArrayList<>();

    FakeOllama ollama(FakeOllama.Builder builder) {
        FakeOllama ollama = builder.start();
        upstreams.add(ollama);
        return ollama;
    }

    /**
     * A proxy on free ports whose config is {@code yaml} plus a {@code proxy:} section (unless given) and, unless
     * given, one host {@code gpu-1} at {@code ollama} with {@code slots} slots.
     */
    QueueProxy start(FakeOllama ollama, int slots, String yaml) throws Exception {
        return start(ollama, slots, yaml, Map.of());
    }

    QueueProxy start(FakeOllama ollama, int slots, String yaml, Map<String, String> env) throws Exception {
        return start(ollama, slots, yaml, env, true, MemoryBudget.ofThisJvm());
    }

    /** As {@link #start(FakeOllama, int, String)}, with the body budget derived from a max heap the test gives. */
    QueueProxy start(FakeOllama ollama, int slots, String yaml, MemoryBudget memory) throws Exception {
        return start(ollama, slots, yaml, Map.of(), true, memory);
    }

    /** As {@link #start(FakeOllama, int, String)}, on the ports the YAML names, for a test about those very ports. */
    QueueProxy startOnConfiguredPorts(FakeOllama ollama, int slots, String yaml) throws Exception {
        return start(ollama, slots, yaml, Map.of(), false, MemoryBudget.ofThisJvm());
    }

    private QueueProxy start(FakeOllama ollama, int slots, String yaml, Map<String, String> env, boolean anyPort,
            MemoryBudget memory) throws Exception {
        StringBuilder full = new StringBuilder(yaml);
        if (!yaml.contains("proxy:")) {
            // A stream a test leaves stalled must not hold the fixture's stop for the default 30 s.
            full.append("proxy:\n  drain_timeout: 1s\n");
        }
        if (!yaml.contains("ollama:")) {
            full.append("ollama:\n  hosts:\n    - name: gpu-1\n      url: ").append(ollama.baseUri())
                    .append("\n      max_concurrent: ").append(slots).append('\n');
        }
        if (!yaml.contains("logging:")) {
            full.append("logging:\n  level: warn\n  access_log: false\n");
        }
        OqpConfig config;
        try {
            config = ConfigLoader.parse(full.toString(), Target.QUEUE_PROXY, env);
        } catch (ConfigException e) {
            throw new AssertionError("test config invalid:\n" + e.getMessage() + "\n" + full, e);
        }
        QueueProxy proxy = new QueueProxy(config, Ticks.SYSTEM, memory);
        if (anyPort) {
            TestSockets.bindAnyPorts(proxy.mainConnector().getServer());
        }
        proxy.start();
        started.add(proxy);
        return proxy;
    }

    static URI base(QueueProxy proxy) {
        return URI.create("http://127.0.0.1:" + proxy.port());
    }

    static URI base(QueueProxy proxy, String service) {
        return URI.create("http://127.0.0.1:" + proxy.port(service));
    }

    /** A POST of {@code json} with headers given as name, value, name, value… */
    static HttpRequest post(URI uri, String json, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofString(json))
                .header("Content-Type", "application/json");
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return b.build();
    }

    static HttpRequest get(URI uri, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).GET();
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return b.build();
    }

    HttpResponse<String> send(HttpRequest request) throws IOException, InterruptedException {
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    CompletableFuture<HttpResponse<String>> sendAsync(HttpRequest request) {
        return http.sendAsync(request, HttpResponse.BodyHandlers.ofString());
    }

    /** A generate request body for {@code model} whose prompt names the request, so the upstream's record tells them apart. */
    static String generate(String model, String prompt) {
        return "{\"model\":\"" + model + "\",\"prompt\":\"" + prompt + "\",\"stream\":false}";
    }

    @Override
    public void close() {
        for (QueueProxy proxy : started) {
            try {
                proxy.stop();
            } catch (Exception ignored) {
                // best effort
            }
        }
        for (FakeOllama ollama : upstreams) {
            ollama.stop();
        }
    }
}
