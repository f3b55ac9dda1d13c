package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.get;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.RecordedRequest;
import dev.oqp.common.testing.TestSockets;
import dev.oqp.queue.cache.CachePlan;
import dev.oqp.queue.cache.RedisFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The embedding cache end to end (pipeline steps 6 and 11), against the memory backend and a real Valkey or
 * Redis: hits answered without the upstream, partial batches sending only the missing items, keys that
 * split on every vector-changing field and on the client with {@code partition: client}, TTL and size
 * limits, a backend that dies and comes back. Assertions are on what the fake Ollama received.
 */
class EmbeddingCacheEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String MODEL = "all-minilm:latest";
    private static RedisFixture redis;

    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    @AfterAll
    static void stopRedis() {
        if (redis != null) {
            redis.close();
        }
    }

    private static synchronized RedisFixture redis() {
        if (redis == null) {
            redis = RedisFixture.start();
        }
        redis.restart();
        return redis;
    }

    /** The {@code embedding_cache:} section for a backend, with a key prefix of its own (a shared server may hold others'). */
    private static String cache(String backend, String extra) {
        String url = backend.equals("redis") ? redis().url() : "memory";
        return "embedding_cache:\n  backend: '" + url + "'\n  key_prefix: 't" + UUID.randomUUID() + ":'\n" + extra;
    }

    private FakeOllama ollama() {
        return fixture.ollama(FakeOllama.builder().loaded(MODEL));
    }

    @Nested
    class Hits {
        @ParameterizedTest
        @ValueSource(strings = {"memory", "redis"})
        void theSecondIdenticalRequestIsAHitAndTheUpstreamSawOne(String backend) throws Exception {
            FakeOllama ollama = ollama();
            QueueProxy proxy = fixture.start(ollama, 2, cache(backend, ""));
            String body = "{\"model\":\"all-minilm\",\"input\":[\"alpha\",\"beta\"]}";

            HttpResponse<String> first = stored(proxy, embed(proxy), body);
            HttpResponse<String> second = fixture.send(post(embed(proxy), body));

            assertThat(first.statusCode()).isEqualTo(200);
            assertThat(first.headers().firstValue("X-Cache")).hasValue("MISS");
            assertThat(second.statusCode()).isEqualTo(200);
            assertThat(second.headers().firstValue("X-Cache")).hasValue("HIT");
            assertThat(second.headers().firstValue("X-Upstream-Host")).as("never sent upstream").isEmpty();
            assertThat(embeds(ollama)).hasSize(1);
            JsonNode miss = JSON.readTree(first.body());
            JsonNode hit = JSON.readTree(second.body());
            assertThat(hit.get("embeddings")).isEqualTo(miss.get("embeddings"));
            assertThat(hit.get("model").asText()).as("the model as the client wrote it").isEqualTo("all-minilm");
            assertThat(hit.get("prompt_eval_count").asLong()).isZero();
            String metrics = metrics(proxy);
            // Labelled as the Python tool's: client, model (installed on a host, else other), endpoint.
            assertThat(metrics).containsPattern(
                    "oqp_embedding_cache_hits_total\\{client=\"anonymous\",endpoint=\"/api/embed\",model=\"[^\"]+\"} 2.0")
                    .containsPattern("oqp_embedding_cache_misses_total\\{client=\"anonymous\",endpoint=\"/api/embed\","
                            + "model=\"[^\"]+\"} 2.0");
            assertThat(metrics).doesNotContain("oqp_embedding_cache_errors_total{");
        }

        @ParameterizedTest
        @ValueSource(strings = {"memory", "redis"})
        void aBatchOfThreeWithTwoCachedSendsOnlyTheMissingItemAndAnswersInOrder(String backend) throws Exception {
            FakeOllama ollama = ollama();
            QueueProxy proxy = fixture.start(ollama, 2, cache(backend, ""));
            HttpResponse<String> all = stored(proxy, embed(proxy), "{\"model\":\"all-minilm\",\"input\":[\"a\",\"b\",\"c\"]}");
            fixture.send(post(embed(proxy), "{\"model\":\"all-minilm\",\"input\":[\"c\",\"a\"]}"));
            ollama.reset();

            // "a" and "c" cached; "b" is new under another spelling of the same model.
            HttpResponse<String> partial = stored(proxy, embed(proxy),
                    "{\"model\":\"all-minilm:latest\",\"input\":[\"c\",\"b2\",\"a\"],\"keep_alive\":\"5m\"}");

            assertThat(partial.statusCode()).isEqualTo(200);
            assertThat(partial.headers().firstValue("X-Cache")).hasValue("PARTIAL");
            List<RecordedRequest> sent = embeds(ollama);
            assertThat(sent).hasSize(1);
            assertThat(sent.get(0).bodyJson().get("input").toString()).isEqualTo("[\"b2\"]");
            assertThat(sent.get(0).bodyJson().get("keep_alive").asText()).as("other fields sent as they were").isEqualTo("5m");
            JsonNode vectors = JSON.readTree(partial.body()).get("embeddings");
            JsonNode original = JSON.readTree(all.body()).get("embeddings");
            assertThat(vectors).hasSize(3);
            assertThat(vectors.get(0)).isEqualTo(original.get(2));
            assertThat(vectors.get(2)).isEqualTo(original.get(0));
            HttpResponse<String> b2Alone = fixture.send(post(embed(proxy), "{\"model\":\"all-minilm\",\"input\":\"b2\"}"));
            assertThat(b2Alone.headers().firstValue("X-Cache")).as("the missing item was stored").hasValue("HIT");
            assertThat(JSON.readTree(b2Alone.body()).get("embeddings").get(0)).isEqualTo(vectors.get(1));
            assertThat(JSON.readTree(partial.body()).get("model").asText()).isEqualTo("all-minilm:latest");
            assertThat(embeds(ollama)).hasSize(1);
        }

        @ParameterizedTest
        @ValueSource(strings = {"memory", "redis"})
        void theSameTextWithOtherDimensionsOrOptionsIsAMiss(String backend) throws Exception {
            FakeOllama ollama = ollama();
            QueueProxy proxy = fixture.start(ollama, 2, cache(backend, ""));
            String[] bodies = {
                "{\"model\":\"all-minilm\",\"input\":\"same\"}",
                "{\"model\":\"all-minilm\",\"input\":\"same\",\"dimensions\":64}",
                "{\"model\":\"all-minilm\",\"input\":\"same\",\"options\":{\"num_ctx\":512}}",
                "{\"model\":\"all-minilm\",\"input\":\"same\",\"truncate\":false}",
            };
            for (String body : bodies) {
                HttpResponse<String> response = stored(proxy, embed(proxy), body);
                assertThat(response.headers().firstValue("X-Cache")).as(body).hasValue("MISS");
            }
            assertThat(embeds(ollama)).hasSize(4);
            assertThat(JSON.readTree(fixture.send(post(embed(proxy), bodies[1])).body()).get("embeddings").get(0))
                    .as("64 dimensions, from the cache").hasSize(64);
            // Field order and the case of top-level names do not change a key (Ollama's decoder folds them).
            HttpResponse<String> reordered = fixture.send(post(embed(proxy),
                    "{\"Options\":{\"num_ctx\":512},\"input\":\"same\",\"model\":\"all-minilm\"}"));
            assertThat(reordered.headers().firstValue("X-Cache")).hasValue("HIT");
            assertThat(embeds(ollama)).hasSize(4);
        }

        @ParameterizedTest
        @ValueSource(strings = {"memory", "redis"})
        void partitionClientKeepsTwoClientsApart(String backend) throws Exception {
            FakeOllama ollama = ollama();
            String keys = "auth:\n  keys:\n    - {client_id: one, key: one-key-0123456789abcdef}\n"
                    + "    - {client_id: two, key: two-key-0123456789abcdef}\n";
            QueueProxy proxy = fixture.start(ollama, 2, keys + cache(backend, "  partition: client\n"));
            String body = "{\"model\":\"all-minilm\",\"input\":\"secret text\"}";

            long before = proxy.cache().storesEnded();
            assertThat(cacheOf(fixture.send(post(embed(proxy), body, "Authorization", "Bearer one-key-0123456789abcdef")))).isEqualTo("MISS");
            await().atMost(Duration.ofSeconds(5)).until(() -> proxy.cache().storesEnded() > before);
            assertThat(cacheOf(fixture.send(post(embed(proxy), body, "Authorization", "Bearer two-key-0123456789abcdef"))))
                    .as("another client does not see the first one's entry").isEqualTo("MISS");
            await().atMost(Duration.ofSeconds(5)).until(() -> proxy.cache().storesEnded() > before + 1);
            assertThat(cacheOf(fixture.send(post(embed(proxy), body, "Authorization", "Bearer one-key-0123456789abcdef")))).isEqualTo("HIT");
            assertThat(cacheOf(fixture.send(post(embed(proxy), body, "Authorization", "Bearer two-key-0123456789abcdef")))).isEqualTo("HIT");
            assertThat(embeds(ollama)).hasSize(2);
        }

        @Test
        void partitionSharedLetsAnotherClientHit() throws Exception {
            FakeOllama ollama = ollama();
            String keys = "auth:\n  keys:\n    - {client_id: one, key: one-key-0123456789abcdef}\n"
                    + "    - {client_id: two, key: two-key-0123456789abcdef}\n";
            QueueProxy proxy = fixture.start(ollama, 2, keys + cache("memory", ""));
            String body = "{\"model\":\"all-minilm\",\"input\":\"shared text\"}";

            long before = proxy.cache().storesEnded();
            fixture.send(post(embed(proxy), body, "Authorization", "Bearer one-key-0123456789abcdef"));
            await().atMost(Duration.ofSeconds(5)).until(() -> proxy.cache().storesEnded() > before);
            assertThat(cacheOf(fixture.send(post(embed(proxy), body, "Authorization", "Bearer two-key-0123456789abcdef")))).isEqualTo("HIT");
            assertThat(embeds(ollama)).hasSize(1);
        }
    }

    /** TTL, entry size, and hits never queueing. */
    @Nested
    class Limits {
        @ParameterizedTest
        @ValueSource(strings = {"memory", "redis"})
        void anEntryExpiresAfterItsTtl(String backend) throws Exception {
            FakeOllama ollama = ollama();
            QueueProxy proxy = fixture.start(ollama, 2, cache(backend, "  ttl: 1s\n"));
            String body = "{\"model\":\"all-minilm\",\"input\":\"short-lived\"}";
            stored(proxy, embed(proxy), body);
            assertThat(cacheOf(fixture.send(post(embed(proxy), body)))).isEqualTo("HIT");

            // Wall-clock on purpose: the Redis case waits for the server's own TTL (the memory backend's TTL on a
            // hand-moved clock is MemoryEmbeddingCacheTest's; here it is built by the proxy on the system clock).
            Thread.sleep(1300);

            assertThat(cacheOf(fixture.send(post(embed(proxy), body)))).isEqualTo("MISS");
            assertThat(embeds(ollama)).hasSize(2);
        }

        @ParameterizedTest
        @ValueSource(strings = {"memory", "redis"})
        void aVectorOverMaxEntryBytesIsNotStored(String backend) throws Exception {
            FakeOllama ollama = ollama();
            // A 384-dimension vector is several KiB of JSON; 16 dimensions fit in 1 KiB.
            QueueProxy proxy = fixture.start(ollama, 2, cache(backend, "  max_entry_bytes: 1KiB\n"));
            String big = "{\"model\":\"all-minilm\",\"input\":\"large\"}";
            String small = "{\"model\":\"all-minilm\",\"input\":\"small\",\"dimensions\":16}";

            stored(proxy, embed(proxy), big);
            stored(proxy, embed(proxy), small);

            assertThat(cacheOf(fixture.send(post(embed(proxy), big)))).isEqualTo("MISS");
            assertThat(cacheOf(fixture.send(post(embed(proxy), small)))).isEqualTo("HIT");
            assertThat(embeds(ollama)).hasSize(3);
        }

        @Test
        void aHitNeverWaitsInTheQueue() throws Exception {
            FakeOllama ollama = ollama();
            QueueProxy proxy = fixture.start(ollama, 2, cache("memory", ""));
            String cached = "{\"model\":\"all-minilm\",\"input\":\"warm\"}";
            stored(proxy, embed(proxy), cached);
            proxy.scheduler().pause(null);

            CompletableFuture<HttpResponse<String>> queued = fixture.sendAsync(post(embed(proxy),
                    "{\"model\":\"all-minilm\",\"input\":\"cold\"}"));
            await().atMost(Duration.ofSeconds(5)).until(() -> proxy.scheduler().snapshot().totalDepth() == 1);
            HttpResponse<String> hit = fixture.send(post(embed(proxy), cached));

            assertThat(hit.statusCode()).isEqualTo(200);
            assertThat(cacheOf(hit)).isEqualTo("HIT");
            assertThat(queued).as("the miss still waits: the queue is paused").isNotDone();
            proxy.scheduler().resume(null);
            assertThat(queued.get().statusCode()).isEqualTo(200);
            assertThat(embeds(ollama)).hasSize(2);
        }
    }

    /** Answer shapes and requests that are not cached. */
    @Nested
    class Shapes {
        @ParameterizedTest
        @ValueSource(strings = {"memory", "redis"})
        void legacyAndOpenAiAnswersKeepTheirShapes(String backend) throws Exception {
            FakeOllama ollama = ollama();
            QueueProxy proxy = fixture.start(ollama, 2, cache(backend, ""));
            URI legacy = base(proxy).resolve("/api/embeddings");
            URI openai = base(proxy).resolve("/v1/embeddings");
            String legacyBody = "{\"model\":\"all-minilm\",\"prompt\":\"old style\"}";
            HttpResponse<String> legacyMiss = stored(proxy, legacy, legacyBody);
            HttpResponse<String> legacyHit = fixture.send(post(legacy, legacyBody));
            assertThat(cacheOf(legacyHit)).isEqualTo("HIT");
            assertThat(JSON.readTree(legacyHit.body())).isEqualTo(JSON.readTree(legacyMiss.body()));

            stored(proxy, openai, "{\"model\":\"all-minilm\",\"input\":[\"x\",\"y\"]}");
            HttpResponse<String> openaiPartial = fixture.send(post(openai, "{\"model\":\"all-minilm\",\"input\":[\"y\",\"z\",\"x\"]}"));
            assertThat(cacheOf(openaiPartial)).isEqualTo("PARTIAL");
            JsonNode answer = JSON.readTree(openaiPartial.body());
            assertThat(answer.get("object").asText()).isEqualTo("list");
            assertThat(answer.get("data")).hasSize(3);
            for (int i = 0; i < 3; i++) {
                assertThat(answer.get("data").get(i).get("index").asInt()).isEqualTo(i);
                assertThat(answer.get("data").get(i).get("object").asText()).isEqualTo("embedding");
            }
            HttpResponse<String> direct = fixture.send(post(openai, "{\"model\":\"all-minilm\",\"input\":\"z\"}"));
            assertThat(answer.get("data").get(1).get("embedding")).isEqualTo(JSON.readTree(direct.body()).get("data").get(0).get("embedding"));
            assertThat(answer.get("usage").has("prompt_tokens")).isTrue();

            String base64 = "{\"model\":\"all-minilm\",\"input\":\"x\",\"encoding_format\":\"base64\"}";
            HttpResponse<String> b64Miss = stored(proxy, openai, base64);
            assertThat(cacheOf(b64Miss)).as("base64 is another key than floats").isEqualTo("MISS");
            HttpResponse<String> b64Hit = fixture.send(post(openai, base64));
            assertThat(cacheOf(b64Hit)).isEqualTo("HIT");
            assertThat(JSON.readTree(b64Hit.body()).get("data").get(0).get("embedding").isTextual()).isTrue();
            assertThat(JSON.readTree(b64Hit.body()).get("data").get(0).get("embedding"))
                    .isEqualTo(JSON.readTree(b64Miss.body()).get("data").get(0).get("embedding"));
            // Legacy, native and OpenAI vectors are kept apart (legacy ones are not normalised).
            assertThat(cacheOf(fixture.send(post(embed(proxy), "{\"model\":\"all-minilm\",\"input\":\"old style\"}")))).isEqualTo("MISS");
        }

        @Test
        void uncacheableRequestsPassThroughWithoutXCache() throws Exception {
            FakeOllama ollama = ollama();
            QueueProxy proxy = fixture.start(ollama, 2, cache("memory", ""));
            for (String body : new String[] {"{\"model\":\"all-minilm\"}", "{\"model\":\"all-minilm\",\"input\":[]}",
                "{\"model\":\"all-minilm\",\"input\":[\"a\",\"\"]}", "{\"model\":\"all-minilm\",\"input\":\"a\",\"INPUT\":\"b\"}"}) {
                HttpResponse<String> response = fixture.send(post(embed(proxy), body));
                assertThat(response.headers().firstValue("X-Cache")).as(body).isEmpty();
            }
            assertThat(embeds(ollama)).hasSize(4);
        }
    }

    /** A backend that dies, answers garbage, is slow or is down, and a disabled cache. */
    @Nested
    class BackendFaults {
        @Test
        void aKilledBackendMeansCountedMissesAndARestartedOneIsUsedAgain() throws Exception {
            RedisFixture server = redis();
            Assumptions.assumeTrue(server.controllable(), "OQP_TEST_REDIS_URL cannot be stopped");
            FakeOllama ollama = ollama();
            QueueProxy proxy = fixture.start(ollama, 2, cache("redis", "  timeout: 200ms\n"));
            String body = "{\"model\":\"all-minilm\",\"input\":\"kept\"}";
            stored(proxy, embed(proxy), body);
            assertThat(cacheOf(fixture.send(post(embed(proxy), body)))).isEqualTo("HIT");

            server.kill();
            List<HttpResponse<String>> during = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                during.add(fixture.send(post(embed(proxy), body)));
            }

            for (HttpResponse<String> response : during) {
                assertThat(response.statusCode()).isEqualTo(200);
                assertThat(cacheOf(response)).isEqualTo("MISS");
                assertThat(JSON.readTree(response.body()).get("embeddings")).hasSize(1);
            }
            assertThat(embeds(ollama)).hasSize(6);
            assertThat(metrics(proxy)).containsPattern("oqp_embedding_cache_errors_total\\{kind=\"(connection|timeout)\"} [1-9]");
            assertThat(fixture.send(get(base(proxy).resolve("/ready"))).statusCode()).as("not required: still ready").isEqualTo(200);

            server.restart();
            await().atMost(Duration.ofSeconds(10)).until(() -> proxy.cache().backend().available());
            stored(proxy, embed(proxy), body);
            assertThat(cacheOf(fixture.send(post(embed(proxy), body)))).as("used again after its restart").isEqualTo("HIT");
        }

        @Test
        void garbageFromTheBackendIsAMissAndCounted() throws Exception {
            RedisFixture server = redis();
            FakeOllama ollama = ollama();
            String prefix = "g" + UUID.randomUUID() + ":";
            // A generous timeout: on a loaded machine the first command may take longer than the default, and
            // this test is about a corrupt value, not a slow one.
            QueueProxy proxy = fixture.start(ollama, 2, "embedding_cache:\n  backend: '" + server.url() + "'\n  key_prefix: '"
                    + prefix + "'\n  timeout: 5s\n");
            String body = "{\"model\":\"all-minilm\",\"input\":\"poisoned\"}";
            String key = CachePlan.of("/api/embed", body.getBytes(StandardCharsets.UTF_8),
                    MODEL, "all-minilm", null, prefix, 1 << 20).keys().get(0);
            assertThat(server.command("SET " + key + " not-a-vector")).isEqualTo("+OK");

            HttpResponse<String> response = stored(proxy, embed(proxy), body);

            assertThat(cacheOf(response)).isEqualTo("MISS");
            assertThat(JSON.readTree(response.body()).get("embeddings").get(0)).hasSize(384);
            assertThat(metrics(proxy)).contains("oqp_embedding_cache_errors_total{kind=\"corrupt\"} 1.0");
            assertThat(cacheOf(fixture.send(post(embed(proxy), body)))).as("overwritten by a good value").isEqualTo("HIT");
        }

        @Test
        void aSlowBackendIsAMissWithinItsTimeout() throws Exception {
            RedisFixture server = redis();
            Assumptions.assumeTrue(server.controllable(), "DEBUG SLEEP needs a server of the test's own");
            FakeOllama ollama = ollama();
            QueueProxy proxy = fixture.start(ollama, 2, cache("redis", "  timeout: 200ms\n"));
            String body = "{\"model\":\"all-minilm\",\"input\":\"slow\"}";
            stored(proxy, embed(proxy), body);
            Thread sleeper = new Thread(() -> {
                try {
                    server.command("DEBUG SLEEP 2");
                } catch (IOException ignored) {
                    // the answer comes after the socket timeout; the sleep happened
                }
            });
            sleeper.start();
            Thread.sleep(100);

            long start = System.nanoTime();
            HttpResponse<String> response = fixture.send(post(embed(proxy), body));
            long millis = (System.nanoTime() - start) / 1_000_000;

            assertThat(cacheOf(response)).isEqualTo("MISS");
            assertThat(millis).as("the lookup gave up after its timeout, not the server's 2 s").isLessThan(1500);
            assertThat(metrics(proxy)).contains("oqp_embedding_cache_errors_total{kind=\"timeout\"}");
            sleeper.join();
        }

        @Test
        void aRequiredBackendThatIsDownAnswers503AndMakesTheProxyUnready() throws Exception {
            FakeOllama ollama = ollama();
            // A port nothing listens on (a backend that is down), so never bound by anyone on purpose.
            QueueProxy proxy = fixture.start(ollama, 2, "embedding_cache:\n  backend: 'redis://127.0.0.1:"
                    + TestSockets.freePort() + "/0'\n  required: true\n  timeout: 100ms\n");

            HttpResponse<String> response = fixture.send(post(embed(proxy), "{\"model\":\"all-minilm\",\"input\":\"x\"}"));

            assertThat(response.statusCode()).isEqualTo(503);
            assertThat(response.headers().firstValue("Retry-After")).isPresent();
            assertThat(response.body()).contains("embedding cache unavailable");
            assertThat(embeds(ollama)).isEmpty();
            await().atMost(Duration.ofSeconds(5)).until(() -> proxy.fleet().healthyCount() == 1);
            HttpResponse<String> ready = fixture.send(get(base(proxy).resolve("/ready")));
            assertThat(ready.statusCode()).isEqualTo(503);
            assertThat(ready.body()).contains("embedding cache unavailable");
        }

        @Test
        void aDisabledCacheSendsEveryRequestUpstream() throws Exception {
            FakeOllama ollama = ollama();
            QueueProxy proxy = fixture.start(ollama, 2, "embedding_cache:\n  enabled: false\n");
            String body = "{\"model\":\"all-minilm\",\"input\":\"x\"}";
            fixture.send(post(embed(proxy), body));
            HttpResponse<String> second = fixture.send(post(embed(proxy), body));
            assertThat(second.headers().firstValue("X-Cache")).isEmpty();
            assertThat(embeds(ollama)).hasSize(2);
        }
    }

    /** Sends a request whose answer the proxy stores, and waits until the store has ended (it follows the answer). */
    private HttpResponse<String> stored(QueueProxy proxy, URI uri, String body) throws Exception {
        long before = proxy.cache().storesEnded();
        HttpResponse<String> response = fixture.send(post(uri, body));
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.cache().storesEnded() > before);
        return response;
    }

    private static URI embed(QueueProxy proxy) {
        return base(proxy).resolve("/api/embed");
    }

    private static String cacheOf(HttpResponse<String> response) {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return response.headers().firstValue("X-Cache").orElse("none");
    }

    private String metrics(QueueProxy proxy) throws Exception {
        return fixture.send(get(base(proxy).resolve("/metrics"))).body();
    }

    private static List<RecordedRequest> embeds(FakeOllama ollama) {
        List<RecordedRequest> out = new ArrayList<>();
        for (RecordedRequest r : ollama.requests()) {
            if (r.path().startsWith("/api/embed") || r.path().equals("/v1/embeddings")) {
                out.add(r);
            }
        }
        return out;
    }
}
