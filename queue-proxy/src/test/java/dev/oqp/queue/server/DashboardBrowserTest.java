package dev.oqp.queue.server;

import static dev.oqp.queue.server.QueueFixture.base;
import static dev.oqp.queue.server.QueueFixture.post;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import javax.imageio.ImageIO;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.NodeClients;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The dashboard in a real headless Chromium (Debian's {@code chromium}, driven by playwright-core from
 * {@code clients/}): it loads under its strict CSP with no console error, logs in with the key as a Basic
 * password, and shows queue depth, hosts with health and loaded models, the cache hit rate and tokens per
 * client after some traffic. The screenshot is kept at {@code queue-proxy/target/dashboard.png}. Skipped
 * where there is no browser, unless {@code OQP_REQUIRE_BROWSER=1} (CI).
 */
class DashboardBrowserTest {
    private static final String KEY = "dash-key-0123456789abcdef";
    private final QueueFixture fixture = new QueueFixture();

    @AfterEach
    void tearDown() {
        fixture.close();
    }

    @Test
    void theDashboardShowsQueueHostsCacheAndTokensInARealBrowser() throws Exception {
        NodeClients.require();
        String chromium = browser();
        FakeOllama ollama = fixture.ollama(FakeOllama.builder().loaded("llama3:latest", "all-minilm:latest"));
        QueueProxy proxy = fixture.start(ollama, 2, "auth:\n  keys:\n    - {client_id: app, key: " + KEY + "}\n"
                + "ollama:\n  hosts:\n    - {name: gpu-1, url: '" + ollama.baseUri() + "', max_concurrent: 2}\n");
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.fleet().healthyCount() == 1
                && proxy.fleet().host("gpu-1").inventory().syncedAt() != null);
        String auth = "Bearer " + KEY;
        fixture.send(post(base(proxy).resolve("/api/generate"), QueueFixture.generate("llama3", "hello"), "Authorization", auth));
        String embed = "{\"model\":\"all-minilm\",\"input\":\"dashboard\"}";
        fixture.send(post(base(proxy).resolve("/api/embed"), embed, "Authorization", auth));
        fixture.send(post(base(proxy).resolve("/api/embed"), embed, "Authorization", auth));
        Path screenshot = Path.of("target", "dashboard.png").toAbsolutePath();
        Files.deleteIfExists(screenshot);

        NodeClients.Result result = NodeClients.node(Map.of("OQP_URL", base(proxy).toString(), "OQP_KEY", KEY,
                "OQP_CHROMIUM", chromium, "OQP_SCREENSHOT", screenshot.toString()), 120, "test/dashboard.mjs");

        assertThat(result.exitCode()).as(result.output()).isZero();
        String line = result.output().lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b).orElseThrow();
        JsonNode page = new ObjectMapper().readTree(line);
        assertThat(page.get("status").asInt()).isEqualTo(200);
        assertThat(page.get("csp").asText()).contains("script-src 'nonce-", "default-src 'none'");
        assertThat(page.get("problems")).as("console errors, CSP violations, failed requests").isEmpty();
        assertThat(page.get("outside")).as("no request leaves the proxy's origin").isEmpty();
        assertThat(page.get("errorShown").asBoolean()).isFalse();
        assertThat(page.get("state").asText()).isEqualTo("ready");
        assertThat(page.get("hostsUp").asText()).isEqualTo("1 / 1");
        assertThat(page.get("hosts").asText()).contains("gpu-1", "healthy", "llama3:latest");
        assertThat(page.get("hitRate").asText()).isEqualTo("50.0 %");
        assertThat(page.get("clients").asText()).contains("app");
        assertThat(page.get("queued").asText()).isEqualTo("0");
        assertThat(page.get("urlCredentialsWork").asBoolean()).as("opened as http://user:key@host/dashboard").isTrue();
        BufferedImage image = ImageIO.read(screenshot.toFile());
        assertThat(image.getWidth()).isEqualTo(1280);
        assertThat(image.getHeight()).isGreaterThan(400);
    }

    /** Debian's chromium (or another Chromium on the PATH); skipped, or failed in CI, without one. */
    private static String browser() {
        for (String name : new String[] {"chromium", "chromium-browser", "google-chrome"}) {
            String path = NodeClients.find(name);
            if (path != null) {
                return path;
            }
        }
        String message = "no Chromium for the browser test (Debian: apt-get install chromium)";
        if ("1".equals(System.getenv("OQP_REQUIRE_BROWSER"))) {
            Assertions.fail(message + " (OQP_REQUIRE_BROWSER=1)");
        }
        Assumptions.abort(message);
        return null;
    }
}
