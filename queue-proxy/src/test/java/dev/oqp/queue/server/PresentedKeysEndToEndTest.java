package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.generate;
import static dev.oqp.queue.server.QueueFixture.get;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpResponse;

import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Keys a request presents where the proxy does not need them, or in another header: a dummy key on an injection
 * port is ignored and never counted as a failed key check; {@code x-api-key} is a key on {@code /v1/messages}
 * (Anthropic clients) and never sent upstream.
 */
class PresentedKeysEndToEndTest {
    private static final String KEY_CHAT = QueueProxyTest.KEY_CHAT;
    private static final String KEY_ADMIN = QueueProxyTest.KEY_ADMIN;
    private static final String MESSAGES = "{\"model\":\"llama3\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\","
            + "\"content\":\"hi\"}]}";

    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    private QueueProxy withInjectionPort(FakeOllama ollama) throws Exception {
        return fixture.start(ollama, 2, QueueProxyTest.KEYS + "  rate_limit: { max_failures: 10, window: 60s }\n" + """
                services:
                  - name: openai
                    listen: %d
                    client: chat
                """.formatted(QueueFixture.PLACEHOLDER_PORT));
    }

    private String metrics(QueueProxy proxy) throws Exception {
        return fixture.send(get(base(proxy).resolve("/metrics"), "Authorization", "Bearer " + KEY_ADMIN)).body();
    }

    private static boolean noAuthFailureCounted(String metrics) {
        return metrics.lines().filter(l -> l.startsWith("oqp_auth_failures_total{")).allMatch(l -> l.endsWith(" 0.0"));
    }

    @Test
    void aDummyKeyOnAnInjectionPortIsIgnoredAndNeverCountedAsAFailure() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = withInjectionPort(ollama);
        URI chat = base(proxy, "openai").resolve("/v1/chat/completions");

        for (int i = 0; i < 30; i++) {
            HttpResponse<String> response = fixture.send(post(chat, "{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\","
                    + "\"content\":\"r" + i + "\"}]}", "Authorization", "Bearer ollama"));
            assertThat(response.statusCode()).as("request " + i).isEqualTo(200);
        }
        HttpResponse<String> noKey = fixture.send(post(base(proxy, "openai").resolve("/api/generate"),
                generate("llama3", "no key")));
        HttpResponse<String> wrongOnMain = fixture.send(post(base(proxy).resolve("/api/generate"),
                generate("llama3", "main"), "Authorization", "Bearer ollama"));

        assertThat(noKey.statusCode()).isEqualTo(200);
        assertThat(wrongOnMain.statusCode()).as("the address has no failure from the injection port: 401, not 429")
                .isEqualTo(401);
        assertThat(ollama.requests()).hasSize(31).allSatisfy(r -> {
            assertThat(r.headerValues("X-Client-ID")).containsExactly("chat");
            assertThat(r.header("Authorization")).isNull();
        });
        String metrics = metrics(proxy);
        assertThat(metrics.lines()).as("only the main port's wrong key counts")
                .anyMatch(l -> l.startsWith("oqp_auth_failures_total{") && l.contains("invalid") && l.endsWith(" 1.0"))
                .noneMatch(l -> l.startsWith("oqp_auth_failures_total{") && l.contains("missing") && !l.endsWith(" 0.0"))
                .noneMatch(l -> l.startsWith("oqp_auth_failures_total{") && l.contains("rate_limited") && !l.endsWith(" 0.0"));
    }

    @Test
    void aValidKeyOfAnotherClientOnAnInjectionPortIsThatClient() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = withInjectionPort(ollama);

        HttpResponse<String> response = fixture.send(post(base(proxy, "openai").resolve("/api/generate"),
                generate("llama3", "as admin"), "Authorization", "Bearer " + KEY_ADMIN));

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(ollama.requests().get(0).headerValues("X-Client-ID")).containsExactly("admin");
        assertThat(noAuthFailureCounted(metrics(proxy))).isTrue();
    }

    @Test
    void xApiKeyIsAKeyOnMessagesAndNeverSentUpstream() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = fixture.start(ollama, 1, QueueProxyTest.KEYS);
        URI messages = base(proxy).resolve("/v1/messages");

        HttpResponse<String> valid = fixture.send(post(messages, MESSAGES, "x-api-key", KEY_CHAT,
                "anthropic-version", "2023-06-01"));
        HttpResponse<String> both = fixture.send(post(messages, MESSAGES, "x-api-key", KEY_CHAT,
                "Authorization", "Bearer " + KEY_ADMIN));
        HttpResponse<String> wrong = fixture.send(post(messages, MESSAGES, "x-api-key", "not-a-key-xxxxxxxxxxxx"));
        HttpResponse<String> elsewhere = fixture.send(post(base(proxy).resolve("/api/generate"),
                generate("llama3", "x"), "x-api-key", KEY_CHAT));

        assertThat(valid.statusCode()).as("forwarded (the fake has no /v1/messages)").isNotIn(401, 403);
        assertThat(both.statusCode()).isNotIn(401, 403);
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(elsewhere.statusCode()).as("only /v1/messages takes x-api-key").isEqualTo(401);
        assertThat(ollama.requests()).hasSize(2);
        RecordedRequest first = ollama.requests().get(0);
        assertThat(first.path()).isEqualTo("/v1/messages");
        assertThat(first.headerValues("X-Client-ID")).containsExactly("chat");
        assertThat(first.header("x-api-key")).isNull();
        assertThat(first.header("anthropic-version")).isEqualTo("2023-06-01");
        RecordedRequest second = ollama.requests().get(1);
        assertThat(second.headerValues("X-Client-ID")).as("Authorization wins over x-api-key").containsExactly("admin");
        assertThat(second.header("x-api-key")).isNull();
        assertThat(second.header("Authorization")).isNull();
    }

    @Test
    void xApiKeyIsNotSentUpstreamWithAuthOffEither() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = fixture.start(ollama, 1, "");

        fixture.send(post(base(proxy).resolve("/api/generate"), generate("llama3", "x"), "x-api-key", "sk-ant-secret"));

        assertThat(ollama.requests()).hasSize(1);
        assertThat(ollama.requests().get(0).header("x-api-key")).isNull();
    }

    @Test
    void withAuthOffAnInjectionPortTakesItsKeysScopeAndCeilingAsThePythonToolDid() throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().installed("llama3:latest"));
        QueueProxy proxy = fixture.start(ollama, 2, """
                auth:
                  enabled: false
                  keys:
                    - client_id: reader
                      key: reader-key-0123456789abcdef
                      scope: read
                    - client_id: batch
                      key: batch-key-0123456789abcdef
                      max_priority: low
                services:
                  - name: reader
                    listen: %d
                    client: reader
                  - name: batch
                    listen: %d
                    client: batch
                """.formatted(QueueFixture.PLACEHOLDER_PORT, QueueFixture.PLACEHOLDER_PORT + 1));

        HttpResponse<String> read = fixture.send(post(base(proxy, "reader").resolve("/api/generate"),
                generate("llama3", "reader")));
        HttpResponse<String> tags = fixture.send(get(base(proxy, "reader").resolve("/api/tags")));
        HttpResponse<String> batch = fixture.send(post(base(proxy, "batch").resolve("/api/generate"),
                generate("llama3", "batch"), "X-Queue-Priority", "high"));

        assertThat(read.statusCode()).as("a read key's port may not generate").isEqualTo(403);
        assertThat(tags.statusCode()).isEqualTo(200);
        assertThat(batch.statusCode()).isEqualTo(200);
        assertThat(batch.headers().firstValue("X-Queue-Priority")).as("capped by the key's ceiling").hasValue("low");
        assertThat(ollama.requests()).filteredOn(r -> r.path().equals("/api/generate")).singleElement()
                .satisfies(r -> assertThat(r.header("X-Client-ID")).isEqualTo("batch"));
    }
}
