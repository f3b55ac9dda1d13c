package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.generate;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.LoadedConfig;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.Target;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.common.testing.TestSockets;
import dev.oqp.queue.scheduler.Ticks;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Python ollama-queue-proxy's config files run unchanged: two files written for these tests (a 0.2-era and a
 * 0.5-era one, in {@code python-schema/}) that together use every key of its schema start a real queue proxy in
 * front of a fake Ollama, requests on the main port and on the injection port reach it with the right identity,
 * and {@code migrate-config}'s output binds to the very same configuration.
 */
class PythonConfigEndToEndTest {
    /** Every key of the Python tool's schema (0.5.2), as the reference lists them. */
    private static final List<String> PYTHON_KEYS = List.of(
            "proxy.host", "proxy.port", "proxy.max_concurrent", "proxy.allow_model_management", "proxy.drain_timeout",
            "proxy.max_request_body_mb",
            "ollama.hosts", "ollama.hosts[].url", "ollama.hosts[].name", "ollama.hosts[].weight",
            "ollama.hosts[].model_sync_interval", "ollama.health_check_interval", "ollama.request_timeout",
            "queue.high", "queue.normal", "queue.low", "queue.high.max_depth", "queue.high.max_wait",
            "queue.high.high_watermark_pct", "queue.overflow_status_code", "queue.max_queued_mb",
            "routing.strategy", "routing.fallback", "routing.model_poll_timeout",
            "auth.enabled", "auth.keys", "auth.rate_limit.max_failures", "auth.rate_limit.window_seconds",
            "auth.keys[].key", "auth.keys[].key_env", "auth.keys[].key_file", "auth.keys[].client_id",
            "auth.keys[].description", "auth.keys[].max_priority", "auth.keys[].scope", "auth.keys[].management",
            "auth.keys[].max_concurrent",
            "client_injection.listeners[].listen_port", "client_injection.listeners[].inject_as",
            "client_injection.listeners[].bind", "client_injection.allow_public_injection",
            "embedding_cache.enabled", "embedding_cache.backend", "embedding_cache.ttl",
            "embedding_cache.max_entry_bytes", "embedding_cache.key_prefix", "embedding_cache.connect_timeout",
            "keep_alive.default", "keep_alive.override",
            "webhooks.enabled", "webhooks.url", "webhooks.events", "webhooks.allowed_hosts",
            "dashboard.enabled", "dashboard.refresh_seconds",
            "logging.level", "logging.format");

    private static final String LIBRECHAT_KEY = "sk-librechat-9b7d5f3a1c2e4a6b";
    private static final String MEMSEARCH_KEY = "sk-memsearch-3e5a7c9b1d2f4a6e";

    private final QueueFixture fixture = new QueueFixture();
    private final List<QueueProxy> started = new ArrayList<>();

    @TempDir
    Path dir;

    @AfterEach
    void stop() throws Exception {
        for (QueueProxy proxy : started) {
            proxy.stop();
        }
        fixture.close();
    }

    @Test
    void theTwoFilesTogetherUseEveryKeyOfThePythonSchema() throws Exception {
        Set<String> used = new TreeSet<>();
        for (String name : List.of("config-0.2.yml", "config-0.5.yml")) {
            collect(new YAMLMapper().readTree(resource(name)), "", used);
        }
        assertThat(used).containsAll(PYTHON_KEYS);
    }

    @Test
    void aZeroTwoFileStartsUnchangedAndBothPortsReachOllamaWithTheirIdentity() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        Path file = write("config-0.2.yml", ollama);

        LoadedConfig loaded = ConfigLoader.read(file, Target.QUEUE_PROXY, Map.of());
        QueueProxy proxy = start(loaded.config());

        assertThat(loaded.notes()).anySatisfy(n -> assertThat(n).contains("client_injection.listeners[0] → services[0]"))
                .anySatisfy(n -> assertThat(n).contains("routing.model_poll_timeout: no equivalent"))
                .anySatisfy(n -> assertThat(n).contains("queue.stalled dropped"))
                .anySatisfy(n -> assertThat(n).contains("auth.keys[client_id=admin].management"));
        OqpConfig c = loaded.config();
        assertThat(c.auth().enabled()).isTrue();
        assertThat(c.keepAlive().defaultValue()).isEqualTo("10m");
        assertThat(c.webhooks().endpoints()).singleElement().satisfies(e -> {
            assertThat(e.url()).isEqualTo("http://127.0.0.1:9/oqp-hook");
            assertThat(e.events()).containsExactly("queue.full", "queue.high_watermark", "queue.drained",
                    "host.unhealthy", "host.recovered");
        });
        assertThat(c.logging().level()).isEqualTo("warn");

        HttpResponse<String> viaKey = fixture.send(post(URI.create("http://127.0.0.1:" + proxy.port() + "/api/generate"),
                generate("llama3", "main-port"), "Authorization", "Bearer sk-librechat-4f9a1c2e7b3d5a60"));
        HttpResponse<String> viaInjection = fixture.send(post(URI.create("http://127.0.0.1:"
                + proxy.port("open-webui-11436") + "/api/generate"), generate("llama3", "injection-port")));
        HttpResponse<String> noKey = fixture.send(post(URI.create("http://127.0.0.1:" + proxy.port() + "/api/generate"),
                generate("llama3", "no-key")));

        assertThat(viaKey.statusCode()).isEqualTo(200);
        assertThat(viaInjection.statusCode()).isEqualTo(200);
        assertThat(noKey.statusCode()).isEqualTo(401);
        assertThat(clientOf(ollama, "main-port")).isEqualTo("librechat");
        assertThat(clientOf(ollama, "injection-port")).isEqualTo("open-webui");
        assertThat(inferenceRequests(ollama)).hasSize(2);
    }

    @Test
    void aZeroFiveFileStartsUnchangedWithKeyEnvAndKeyFileAndTheInjectionPortUsesItsClient() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        Path file = write("config-0.5.yml", ollama);
        Map<String, String> env = Map.of("LIBRECHAT_KEY", LIBRECHAT_KEY);

        LoadedConfig loaded = ConfigLoader.read(file, Target.QUEUE_PROXY, env);
        QueueProxy proxy = start(loaded.config());

        OqpConfig c = loaded.config();
        assertThat(c.proxy().maxBody()).isEqualTo(64L << 20);
        assertThat(c.proxy().allowModelManagement()).isFalse();
        assertThat(c.queue().maxQueuedBytes()).isEqualTo(256L << 20);
        assertThat(c.queue().low().maxDepth()).as("a tier block present takes the generic 100").isEqualTo(100);
        assertThat(c.admin().dashboard()).isTrue();
        assertThat(c.webhooks().endpoints()).isEmpty();
        assertThat(c.keepAlive().defaultValue()).isEqualTo("5m");
        assertThat(c.ollama().modelSyncInterval()).isEqualTo(Duration.ofSeconds(15));

        HttpResponse<String> viaKey = fixture.send(post(URI.create("http://127.0.0.1:" + proxy.port() + "/api/generate"),
                generate("llama3", "main-port"), "Authorization", "Bearer " + LIBRECHAT_KEY));
        HttpResponse<String> viaInjection = fixture.send(post(URI.create("http://127.0.0.1:"
                + proxy.port("memsearch-11437") + "/api/generate"), generate("llama3", "injection-port")));

        assertThat(viaKey.statusCode()).isEqualTo(200);
        assertThat(viaInjection.statusCode()).isEqualTo(200);
        assertThat(clientOf(ollama, "main-port")).isEqualTo("librechat");
        assertThat(clientOf(ollama, "injection-port")).isEqualTo("memsearch");

        // allow_model_management: "no" (a Python bool string) holds for every key.
        HttpResponse<String> pull = fixture.send(post(URI.create("http://127.0.0.1:" + proxy.port() + "/api/pull"),
                "{\"model\":\"llama3\"}", "Authorization", "Bearer " + LIBRECHAT_KEY));
        assertThat(pull.statusCode()).isEqualTo(403);
        assertThat(pull.body()).contains("model management endpoints are disabled");
        assertThat(ollama.requests()).noneMatch(r -> r.path().equals("/api/pull"));
    }

    @Test
    void migrateConfigOutputBindsToTheSameConfigAsEachPythonFile() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder());
        Map<String, String> env = Map.of("LIBRECHAT_KEY", LIBRECHAT_KEY);
        for (String name : List.of("config-0.2.yml", "config-0.5.yml")) {
            Path python = write(name, ollama);
            String migrated = ConfigLoader.migrate(python, env);
            Path oqp = dir.resolve("migrated-" + name);
            Files.writeString(oqp, migrated);

            OqpConfig fromPython = ConfigLoader.load(python, Target.QUEUE_PROXY, env);
            LoadedConfig fromMigrated = ConfigLoader.read(oqp, Target.QUEUE_PROXY, env);

            assertThat(fromMigrated.notes()).as("read as oqp's schema").isEmpty();
            assertThat(fromMigrated.config()).as(name).isEqualTo(fromPython);
            assertThat(migrated).doesNotContain(LIBRECHAT_KEY).doesNotContain(MEMSEARCH_KEY);
        }
        assertThat(ConfigLoader.migrate(dir.resolve("config-0.5.yml"), env)).contains("key_env: LIBRECHAT_KEY")
                .contains("key_file: keys/memsearch.key").contains("# auth.rate_limit.window_seconds");
    }

    @Test
    void environmentOverridesTurnAuthOnAndNameTheHost() throws Exception {
        FakeOllama decoy = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        FakeOllama real = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        Path file = dir.resolve("config.yml");
        Files.writeString(file, """
                ollama:
                  hosts:
                    - {name: gpu-1, url: "%s"}
                auth:
                  enabled: false
                  keys:
                    - {client_id: librechat, key: "%s"}
                """.formatted(decoy.baseUri(), LIBRECHAT_KEY));
        Map<String, String> env = Map.of("OQP_AUTH__ENABLED", "true",
                "OQP_OLLAMA__HOSTS__0__URL", real.baseUri().toString());

        QueueProxy proxy = start(ConfigLoader.load(file, Target.QUEUE_PROXY, env));

        HttpResponse<String> noKey = fixture.send(post(URI.create("http://127.0.0.1:" + proxy.port() + "/api/generate"),
                generate("llama3", "no-key")));
        HttpResponse<String> withKey = fixture.send(post(URI.create("http://127.0.0.1:" + proxy.port()
                + "/api/generate"), generate("llama3", "with-key"), "Authorization", "Bearer " + LIBRECHAT_KEY));

        assertThat(noKey.statusCode()).isEqualTo(401);
        assertThat(withKey.statusCode()).isEqualTo(200);
        assertThat(clientOf(real, "with-key")).isEqualTo("librechat");
        assertThat(inferenceRequests(decoy)).isEmpty();
    }

    private QueueProxy start(OqpConfig config) throws Exception {
        QueueProxy proxy = new QueueProxy(config, Ticks.SYSTEM, MemoryBudget.ofThisJvm());
        TestSockets.bindAnyPorts(proxy.mainConnector().getServer());
        proxy.start();
        started.add(proxy);
        return proxy;
    }

    private Path write(String name, FakeOllama ollama) throws IOException {
        String text = new String(resource(name).readAllBytes(), StandardCharsets.UTF_8)
                .replace("@OLLAMA_URL@", ollama.baseUri().toString());
        Files.createDirectories(dir.resolve("keys"));
        Files.writeString(dir.resolve("keys/memsearch.key"), MEMSEARCH_KEY + "\n");
        Path file = dir.resolve(name);
        Files.writeString(file, text);
        return file;
    }

    private static InputStream resource(String name) {
        return PythonConfigEndToEndTest.class.getResourceAsStream("/python-schema/" + name);
    }

    private static List<RecordedRequest> inferenceRequests(FakeOllama ollama) {
        return ollama.requests().stream().filter(r -> r.path().equals("/api/generate")).toList();
    }

    /** The {@code X-Client-ID} the upstream received with the generate request whose prompt is {@code prompt}. */
    private static String clientOf(FakeOllama ollama, String prompt) {
        return inferenceRequests(ollama).stream().filter(r -> r.bodyAsString().contains("\"" + prompt + "\""))
                .findFirst().orElseThrow(() -> new AssertionError("no request " + prompt + " upstream"))
                .header("X-Client-ID");
    }

    /** Every key path of {@code node}, list elements as {@code []}. */
    private static void collect(JsonNode node, String path, Set<String> out) {
        if (node.isObject()) {
            node.properties().forEach(e -> {
                String p = path.isEmpty() ? e.getKey() : path + "." + e.getKey();
                out.add(p);
                collect(e.getValue(), p, out);
            });
        } else if (node.isArray()) {
            node.forEach(element -> collect(element, path + "[]", out));
        }
    }
}
