package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.get;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.oqp.common.testing.FakeOllama;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@code /dashboard}: scope read (bearer or a Basic password), a fresh nonce per response, off by config. */
class DashboardTest {
    private static final String READER = "reader-key-0123456789abcdef";
    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    private QueueProxy start(String extra) throws Exception {
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));
        return fixture.start(ollama, 2, "auth:\n  keys:\n    - {client_id: reader, key: " + READER + ", scope: read}\n" + extra);
    }

    private static String basic(String password) {
        return "Basic " + Base64.getEncoder().encodeToString(("any:" + password).getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void theDashboardNeedsAKeyAndOffersTheBrowserALoginPrompt() throws Exception {
        QueueProxy proxy = start("");
        HttpResponse<String> anonymous = fixture.send(get(base(proxy).resolve("/dashboard")));
        assertThat(anonymous.statusCode()).isEqualTo(401);
        assertThat(anonymous.headers().allValues("WWW-Authenticate")).contains("Bearer", "Basic realm=\"oqp\", charset=\"UTF-8\"");
        assertThat(fixture.send(get(base(proxy).resolve("/dashboard"), "Authorization", basic("wrong-key-0123456789"))).statusCode())
                .isEqualTo(401);

        HttpResponse<String> byBasic = fixture.send(get(base(proxy).resolve("/dashboard"), "Authorization", basic(READER)));
        HttpResponse<String> byBearer = fixture.send(get(base(proxy).resolve("/dashboard"), "Authorization", "Bearer " + READER));

        assertThat(byBasic.statusCode()).isEqualTo(200);
        assertThat(byBearer.statusCode()).isEqualTo(200);
        assertThat(byBasic.headers().firstValue("Content-Type").orElseThrow()).startsWith("text/html");
        assertThat(fixture.send(get(base(proxy).resolve("/queue/status"), "Authorization", basic(READER))).statusCode())
                .as("what the page polls takes the same login").isEqualTo(200);
        HttpResponse<String> otherPath = fixture.send(get(base(proxy).resolve("/api/tags"), "Authorization", basic(READER)));
        assertThat(otherPath.statusCode()).as("Basic is for the dashboard only").isEqualTo(401);
        assertThat(otherPath.headers().allValues("WWW-Authenticate")).containsExactly("Bearer");
    }

    @Test
    void everyResponseCarriesAStrictPolicyWithItsOwnNonce() throws Exception {
        QueueProxy proxy = start("");
        HttpResponse<String> first = fixture.send(get(base(proxy).resolve("/dashboard"), "Authorization", "Bearer " + READER));
        HttpResponse<String> second = fixture.send(get(base(proxy).resolve("/dashboard"), "Authorization", "Bearer " + READER));

        String csp = first.headers().firstValue("Content-Security-Policy").orElseThrow();
        assertThat(csp).contains("default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'").doesNotContain("unsafe");
        Matcher nonce = Pattern.compile("script-src 'nonce-([A-Za-z0-9+/=]+)'").matcher(csp);
        assertThat(nonce.find()).isTrue();
        assertThat(first.body()).contains("<script nonce=\"" + nonce.group(1) + "\">", "<style nonce=\"" + nonce.group(1) + "\">")
                .doesNotContain("{{NONCE}}").doesNotContain("http://").doesNotContain("https://");
        assertThat(second.headers().firstValue("Content-Security-Policy").orElseThrow()).isNotEqualTo(csp);
        assertThat(first.headers().firstValue("X-Frame-Options")).hasValue("DENY");
        assertThat(first.headers().firstValue("Cache-Control")).hasValue("no-store");
    }

    @Test
    void adminDashboardFalseTurnsItOffAndBasicWithIt() throws Exception {
        QueueProxy proxy = start("admin:\n  dashboard: false\n");
        assertThat(fixture.send(get(base(proxy).resolve("/dashboard"), "Authorization", "Bearer " + READER)).statusCode())
                .isEqualTo(404);
        assertThat(fixture.send(get(base(proxy).resolve("/queue/status"), "Authorization", basic(READER))).statusCode())
                .isEqualTo(401);
    }

    @Test
    void queueControlsRefuseCrossSiteRequests() throws Exception {
        // Auth off: nothing but the browser's own headers tells a web page's request from the operator's.
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().loaded("llama3:latest"));
        QueueProxy proxy = fixture.start(ollama, 2, "");
        URI pause = base(proxy).resolve("/queue/pause");
        String self = "http://127.0.0.1:" + proxy.port();

        assertThat(fixture.send(post(pause, "", "Origin", "http://evil.example")).statusCode()).isEqualTo(403);
        assertThat(fixture.send(post(pause, "", "Origin", "http://localhost:8080")).statusCode()).isEqualTo(403);
        assertThat(fixture.send(post(pause, "", "Sec-Fetch-Site", "cross-site")).statusCode()).isEqualTo(403);
        assertThat(proxy.scheduler().snapshot().paused()).as("nothing paused").isEmpty();
        assertThat(fixture.send(post(pause, "", "Origin", self)).statusCode()).as("the dashboard's own origin").isEqualTo(200);
        assertThat(fixture.send(post(base(proxy).resolve("/queue/resume"), "")).statusCode()).as("curl").isEqualTo(200);
    }
}
