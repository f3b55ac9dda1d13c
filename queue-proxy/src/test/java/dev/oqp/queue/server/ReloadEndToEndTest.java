package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.get;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.Target;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.common.testing.TestSockets;
import dev.oqp.queue.reload.Reload;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hot reload: a new file (SIGHUP or the file changing) swaps keys, caps and hosts for new requests while
 * streams in progress finish on what they had; a file with a problem changes nothing and says where.
 */
class ReloadEndToEndTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final String KEY_A = "key-a-0123456789abcdef";
    private static final String KEY_B = "key-b-0123456789abcdef";

    private final QueueFixture fixture = new QueueFixture();
    @TempDir
    Path dir;

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    private FakeOllama slowOllama() {
        return fixture.ollama(FakeOllama.builder().loaded("llama3:latest").tokens(Collections.nCopies(40, " t"))
                .tokenDelay(Duration.ofMillis(25)));
    }

    private static String config(int port, FakeOllama[] hosts, String keys, int slots) {
        StringBuilder yaml = new StringBuilder("proxy:\n  port: " + port + "\n  drain_timeout: 1s\n"
                + "ollama:\n  health_check_interval: 1h\n  model_sync_interval: 1h\n  hosts:\n");
        for (int i = 0; i < hosts.length; i++) {
            yaml.append("    - {name: h").append(i).append(", url: '").append(hosts[i].baseUri()).append("', max_concurrent: ")
                    .append(slots).append("}\n");
        }
        return yaml.append("auth:\n  keys:\n").append(keys).append("logging:\n  level: warn\n  access_log: false\n").toString();
    }

    private static String key(String client, String key, String extra) {
        return "    - {client_id: " + client + ", key: " + key + extra + "}\n";
    }

    private static String streamed(String prompt) {
        return "{\"model\":\"llama3\",\"prompt\":\"" + prompt + "\",\"stream\":true}";
    }

    private HttpResponse<String> generate(QueueProxy proxy, String key, String prompt) throws Exception {
        return fixture.send(post(base(proxy).resolve("/api/generate"), QueueFixture.generate("llama3", prompt),
                "Authorization", "Bearer " + key));
    }

    private CompletableFuture<HttpResponse<String>> stream(QueueProxy proxy, String key, String prompt) {
        return fixture.sendAsync(post(base(proxy).resolve("/api/generate"), streamed(prompt), "Authorization", "Bearer " + key));
    }

    /** The file the watched proxy of a test reads. */
    private Path file() {
        return dir.resolve("oqp.yaml");
    }

    /** A proxy started on {@code yaml}, written to {@link #file()} and watched. */
    private QueueProxy startWatched(FakeOllama ollama, String yaml) throws Exception {
        QueueProxy proxy = fixture.start(ollama, 2, yaml);
        Files.writeString(file(), yaml);
        proxy.watch(file(), Map.of());
        return proxy;
    }

    private static Reload reload(QueueProxy proxy, String yaml) throws Exception {
        return proxy.reload(ConfigLoader.parse(yaml, Target.QUEUE_PROXY, Map.of()));
    }

    @Test
    void aChangedFileAddingAKeyLetsItInWithoutDroppingAStreamInProgress() throws Exception {
        FakeOllama ollama = slowOllama();
        int port = QueueFixture.PLACEHOLDER_PORT;
        FakeOllama[] hosts = {ollama};
        String before = config(port, hosts, key("a", KEY_A, ""), 2);
        QueueProxy proxy = startWatched(ollama, before);
        CompletableFuture<HttpResponse<String>> running = stream(proxy, KEY_A, "running");
        ollama.awaitRequests(1, WAIT);
        assertThat(generate(proxy, KEY_B, "too early").statusCode()).isEqualTo(401);

        Files.writeString(file(), config(port, hosts, key("a", KEY_A, "") + key("b", KEY_B, ""), 2));

        await().atMost(WAIT).until(() -> generate(proxy, KEY_B, "b").statusCode() == 200);
        HttpResponse<String> stream = running.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(stream.statusCode()).isEqualTo(200);
        assertThat(stream.body().lines().filter(l -> l.contains("\"done\":true")).count()).as("the stream ran to its end").isEqualTo(1);
        assertThat(stream.body()).doesNotContain("\"error\"");
        assertThat(fixture.send(get(base(proxy).resolve("/metrics"), "Authorization", "Bearer " + KEY_A)).body())
                .contains("oqp_config_reloads_total{result=\"success\"} 1.0");
    }

    @Test
    void aFileWithOneBadLineChangesNothingAndReportsTheLine() throws Exception {
        FakeOllama ollama = slowOllama();
        int port = QueueFixture.PLACEHOLDER_PORT;
        String before = config(port, new FakeOllama[] {ollama}, key("a", KEY_A, ""), 2);
        QueueProxy proxy = startWatched(ollama, before);
        Files.writeString(file(), before.replace(key("a", KEY_A, ""), key("b", KEY_B, "")) + "queue:\n  normal: {max_depth: -1}\n");

        Reload result = proxy.reloadFile();

        assertThat(result.applied()).isFalse();
        assertThat(result.problems()).containsExactly("queue.normal.max_depth: -1 (expected: >= 0)");
        assertThat(generate(proxy, KEY_A, "still a").statusCode()).as("the old keys still work").isEqualTo(200);
        assertThat(generate(proxy, KEY_B, "not b").statusCode()).isEqualTo(401);
        assertThat(fixture.send(get(base(proxy).resolve("/metrics"), "Authorization", "Bearer " + KEY_A)).body())
                .contains("oqp_config_reloads_total{result=\"error\"}");
    }

    @Test
    void aRemovedKeyGets401OnItsNextRequestWhileItsRunningStreamCompletes() throws Exception {
        FakeOllama ollama = slowOllama();
        int port = QueueFixture.PLACEHOLDER_PORT;
        FakeOllama[] hosts = {ollama};
        QueueProxy proxy = fixture.start(ollama, 2, config(port, hosts, key("a", KEY_A, "") + key("b", KEY_B, ""), 2));
        CompletableFuture<HttpResponse<String>> running = stream(proxy, KEY_B, "b running");
        ollama.awaitRequests(1, WAIT);

        Reload result = reload(proxy, config(port, hosts, key("a", KEY_A, ""), 2));

        assertThat(result.applied()).isTrue();
        assertThat(result.changed()).contains("auth");
        HttpResponse<String> next = generate(proxy, KEY_B, "b next");
        assertThat(next.statusCode()).isEqualTo(401);
        HttpResponse<String> stream = running.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(stream.statusCode()).isEqualTo(200);
        assertThat(stream.body()).contains("\"done\":true").doesNotContain("\"error\"");
        assertThat(ollama.requests()).hasSize(1);
    }

    @Test
    void loweringAClientsCapTakesEffectForItsNextDispatch() throws Exception {
        FakeOllama ollama = slowOllama();
        int port = QueueFixture.PLACEHOLDER_PORT;
        FakeOllama[] hosts = {ollama};
        QueueProxy proxy = fixture.start(ollama, 4, config(port, hosts, key("a", KEY_A, ", max_concurrent: 2"), 4));
        CompletableFuture<HttpResponse<String>> first = stream(proxy, KEY_A, "one");
        CompletableFuture<HttpResponse<String>> second = stream(proxy, KEY_A, "two");
        ollama.awaitRequests(2, WAIT);

        reload(proxy, config(port, hosts, key("a", KEY_A, ", max_concurrent: 1"), 4));
        CompletableFuture<HttpResponse<String>> third = stream(proxy, KEY_A, "three");

        await().atMost(WAIT).until(() -> proxy.scheduler().snapshot().totalDepth() == 1);
        assertThat(ollama.requests()).as("two in flight, the cap is 1 now: the third waits").hasSize(2);
        assertThat(first.get(WAIT.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(second.get(WAIT.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(third.get(WAIT.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(ollama.maxConcurrency()).isEqualTo(2);
    }

    @Test
    void aHostAddedByAReloadTakesRequestsAndARemovedOneFinishesItsStreams() throws Exception {
        FakeOllama a = slowOllama();
        FakeOllama b = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));
        int port = QueueFixture.PLACEHOLDER_PORT;
        QueueProxy proxy = fixture.start(a, 2, config(port, new FakeOllama[] {a}, key("a", KEY_A, ""), 2));
        CompletableFuture<HttpResponse<String>> onA = stream(proxy, KEY_A, "on a");
        a.awaitRequests(1, WAIT);

        Reload result = reload(proxy, config(port, new FakeOllama[] {b}, key("a", KEY_A, ""), 2)
                .replace("name: h0", "name: hb"));

        assertThat(result.applied()).isTrue();
        HttpResponse<String> next = generate(proxy, KEY_A, "next");
        assertThat(next.statusCode()).isEqualTo(200);
        assertThat(next.headers().firstValue("X-Upstream-Host")).hasValue("hb");
        HttpResponse<String> stream = onA.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(stream.statusCode()).isEqualTo(200);
        assertThat(stream.body()).contains("\"done\":true").doesNotContain("\"error\"");
        assertThat(a.requests().stream().map(RecordedRequest::path).filter(p -> p.equals("/api/generate")).count())
                .as("the removed host took nothing new").isEqualTo(1);
        await().atMost(WAIT).until(() -> proxy.pool().inFlight() == 0);
        String status = fixture.send(get(base(proxy).resolve("/queue/status"), "Authorization", "Bearer " + KEY_A)).body();
        assertThat(status).contains("\"name\":\"hb\"").doesNotContain("\"name\":\"h0\"");
    }

    @Test
    void listenerChangesAreReportedAsNeedingARestartAndOtherwiseIgnored() throws Exception {
        FakeOllama ollama = slowOllama();
        // Bound as configured, so picked before the proxy binds it: the test compares the running port with the file's.
        int port = TestSockets.freePort();
        FakeOllama[] hosts = {ollama};
        QueueProxy proxy = fixture.startOnConfiguredPorts(ollama, 2, config(port, hosts, key("a", KEY_A, ""), 2));

        // Never bound (a port change needs a restart): only another port than the running one.
        Reload result = reload(proxy, config(TestSockets.freePort(), hosts, key("a", KEY_A, ""), 2));

        assertThat(result.applied()).isTrue();
        assertThat(result.restartNeeded()).containsExactly("proxy.port");
        Reload again = reload(proxy, config(TestSockets.freePort(), hosts, key("a", KEY_A, "") + key("b", KEY_B, ""), 2));
        assertThat(again.restartNeeded()).as("still pending: compared with what runs, not with the last file")
                .containsExactly("proxy.port");
        Reload back = reload(proxy, config(port, hosts, key("a", KEY_A, ""), 2));
        assertThat(back.restartNeeded()).as("the running port again: nothing pending").isEmpty();
        assertThat(proxy.port()).isEqualTo(port);
        assertThat(generate(proxy, KEY_A, "same port").statusCode()).isEqualTo(200);
    }

    @Test
    void aReloadNeverTurnsAuthenticationOffAndNeverAppliesAnEmptyFile() throws Exception {
        FakeOllama ollama = slowOllama();
        int port = QueueFixture.PLACEHOLDER_PORT;
        String before = config(port, new FakeOllama[] {ollama}, key("a", KEY_A, ""), 2);
        QueueProxy proxy = startWatched(ollama, before);

        Files.writeString(file(), "# emptied\n\n");
        Reload empty = proxy.reloadFile();
        Files.writeString(file(), before.replace("auth:\n", "auth:\n  enabled: false\n"));
        Reload off = proxy.reloadFile();

        assertThat(empty.applied()).isFalse();
        assertThat(empty.problems().get(0)).contains("empty");
        assertThat(off.applied()).isFalse();
        assertThat(off.problems().get(0)).contains("cannot turn authentication off");
        assertThat(fixture.send(get(base(proxy).resolve("/api/tags"))).statusCode()).as("still closed").isEqualTo(401);
        assertThat(generate(proxy, KEY_A, "a").statusCode()).isEqualTo(200);
    }

    @Test
    void aKeyFileRewrittenInPlaceRotatesTheKeyWithoutTouchingTheConfig() throws Exception {
        FakeOllama ollama = slowOllama();
        int port = QueueFixture.PLACEHOLDER_PORT;
        Path keys = Files.createDirectories(dir.resolve("secrets"));
        Path keyFile = keys.resolve("a.key");
        Files.writeString(keyFile, KEY_A + "\n");
        String yaml = config(port, new FakeOllama[] {ollama}, "    - {client_id: a, key_file: '" + keyFile + "'}\n", 2);
        QueueProxy proxy = startWatched(ollama, yaml);
        assertThat(generate(proxy, KEY_A, "old").statusCode()).isEqualTo(200);

        Files.writeString(keyFile, KEY_B + "\n");

        await().atMost(WAIT).until(() -> generate(proxy, KEY_B, "new").statusCode() == 200);
        assertThat(generate(proxy, KEY_A, "old again").statusCode()).isEqualTo(401);
    }
}
