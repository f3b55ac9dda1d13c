package dev.oqp.common.config;

import static dev.oqp.common.config.Yaml.proxyProblems;
import static dev.oqp.common.config.Yaml.sidecar;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigLoaderTest {

    @Test
    void queueProxyDefaultsWithoutOllamaHostMatchTheDesign() throws ConfigException {
        OqpConfig c = ConfigLoader.defaults(Target.QUEUE_PROXY, Map.of());
        assertThat(c.services()).isEmpty();
        assertThat(c.proxy()).isEqualTo(new ProxyConfig("127.0.0.1", 11435, false, 0, 50L << 20, Duration.ofSeconds(30), List.of()));
        assertThat(c.ollama()).isEqualTo(new OllamaConfig(
                List.of(new HostConfig("default", URI.create("http://127.0.0.1:11434"), 2, 1, Map.of())),
                Duration.ofSeconds(5), Duration.ofSeconds(300), Duration.ofSeconds(10), Duration.ofSeconds(15)));
        assertThat(c.queue()).isEqualTo(new QueueConfig(new TierConfig(50, Duration.ofSeconds(120)),
                new TierConfig(100, Duration.ofSeconds(300)), new TierConfig(200, Duration.ofSeconds(600)), 503,
                Duration.ofSeconds(60), 512L << 20));
        assertThat(c.auth()).isEqualTo(new AuthConfig(false, List.of(), new RateLimitConfig(10, Duration.ofSeconds(60))));
        assertThat(c.routing()).isEqualTo(new RoutingConfig(RoutingConfig.Strategy.MODEL_AWARE, RoutingConfig.Fallback.ANY_HEALTHY, true));
        assertThat(c.embeddingCache()).isEqualTo(new EmbeddingCacheConfig(true, "memory", Duration.ofHours(24), 50_000,
                1L << 20, 256L << 20, Duration.ofMillis(250), "oqp:embed:", EmbeddingCacheConfig.Partition.SHARED, false));
        assertThat(c.keepAlive()).isEqualTo(new KeepAliveConfig("", false));
        assertThat(c.admin()).isEqualTo(new AdminConfig(false, true));
        assertThat(c.logging()).isEqualTo(new LoggingConfig("info", LoggingConfig.Format.JSON, true));
        assertThat(c.sidecar()).isEqualTo(new SidecarConfig(0, "127.0.0.1", false, Duration.ofSeconds(30)));
    }

    @ParameterizedTest
    @CsvSource({
            "gpu-box, http://gpu-box:11434",
            "gpu-box:8080, http://gpu-box:8080",
            "0.0.0.0, http://127.0.0.1:11434",
            "0.0.0.0:11500, http://127.0.0.1:11500",
            ":11500, http://127.0.0.1:11500",
            "http://gpu-box, http://gpu-box:80",
            "https://gpu-box, https://gpu-box:443",
            "https://gpu-box:8443/, https://gpu-box:8443",
            "[::1]:11434, http://[::1]:11434",
            "'', http://127.0.0.1:11434"})
    void queueProxyDefaultHostComesFromOllamaHostTheWayOllamaReadsIt(String ollamaHost, String url) throws ConfigException {
        OqpConfig c = ConfigLoader.defaults(Target.QUEUE_PROXY, Map.of("OLLAMA_HOST", ollamaHost));
        assertThat(c.ollama().hosts()).containsExactly(new HostConfig("default", URI.create(url), 2, 1, Map.of()));
    }

    @Test
    void invalidOllamaHostIsAProblem() {
        assertThat(Yaml.proxyProblems("", Map.of("OLLAMA_HOST", "ftp://x"))).containsExactly(
                "ollama.hosts: default host: environment variable OLLAMA_HOST=ftp://x (expected: [http://|https://]host[:port])");
        assertThat(Yaml.proxyProblems("", Map.of("OLLAMA_HOST", "x:99999"))).hasSize(1);
    }

    @Test
    void explicitHostsIgnoreOllamaHost() throws ConfigException {
        OqpConfig c = Yaml.proxy("ollama:\n  hosts: [{name: a, url: 'http://a:1'}]\n", Map.of("OLLAMA_HOST", "ftp://x"));
        assertThat(c.ollama().hosts()).extracting(HostConfig::name).containsExactly("a");
    }

    @Test
    void sidecarWithoutAFileNeedsServices() {
        assertThatThrownBy(() -> ConfigLoader.defaults(Target.SIDECAR, Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessage("services: at least one service is required by ollama-auth-sidecar");
    }

    @Test
    void minimalSidecarConfigGetsDefaultsEverywhereElse() throws ConfigException {
        OqpConfig c = sidecar("services:\n  - {name: a, listen: 11437, upstream: 'http://ollama:11434'}\n");
        OqpConfig defaults = ConfigLoader.defaults(Target.QUEUE_PROXY, Map.of());
        assertThat(c.sidecar()).isEqualTo(SidecarConfig.DEFAULT);
        assertThat(c.logging()).isEqualTo(LoggingConfig.DEFAULT);
        assertThat(c.proxy()).isEqualTo(defaults.proxy());
        assertThat(c.auth()).isEqualTo(defaults.auth());
    }

    @Test
    void emptyFileAndCommentOnlyFileAreAllDefaults() throws ConfigException {
        OqpConfig defaults = ConfigLoader.defaults(Target.QUEUE_PROXY, Map.of());
        assertThat(Yaml.proxy("")).isEqualTo(defaults);
        assertThat(Yaml.proxy("# nothing here\n\n  # still nothing\n")).isEqualTo(defaults);
        assertThat(Yaml.proxy("proxy:\nqueue:\n")).isEqualTo(defaults);
    }

    @Test
    void yamlSyntaxErrorIsOneProblemWithLineAndColumn() {
        assertThat(proxyProblems("proxy:\n  port: [11435\n")).containsExactly(
                "YAML syntax error: line 3, column 1: expected ',' or ']', but got <stream end> (while parsing a flow"
                        + " sequence started at line 2, column 9)");
        assertThat(proxyProblems("proxy:\n  port: 1\n  port: 2\n"))
                .containsExactly("YAML syntax error: line 3, column 7: Duplicate field 'port'");
    }

    @Test
    void yamlSyntaxErrorPointsAtTheLineOfTheMistakeNotTheTokenBeforeIt() {
        assertThat(proxyProblems("proxy:\n  port: 11435\n\tport2: 1\n")).singleElement()
                .asString().startsWith("YAML syntax error: line 3, column 1: found character '\\t(TAB)'");
        assertThat(proxyProblems("proxy:\n  port: 11435\n  host: 'abc\nqueue: {}\n")).containsExactly(
                "YAML syntax error: line 5, column 1: found unexpected end of stream (while scanning a quoted scalar"
                        + " started at line 3, column 9)");
    }

    @Test
    void everyProblemInOneFileIsReported() {
        List<String> problems = Yaml.proxyProblems("""
                services:
                  - name: librechat
                    listen: 80
                    headers:
                      Authorization: "Bearer ${LIBRECHAT_KEY}"
                  - name: librechat
                    listen: 11437
                    bind: 0.0.0.0
                proxy:
                  prot: 1
                queue:
                  high: {max_depth: -1}
                logging: {level: loud}
                """, Map.of());
        assertThat(problems).containsExactly(
                "services[0].listen: 80 (expected: 1024-65535)",
                "services[0].headers.Authorization: environment variable LIBRECHAT_KEY is not set",
                "services[1].name: duplicate service name \"librechat\" (also services[0].name)",
                "services[1].bind: 0.0.0.0 is not a loopback address (expected: allow_public: true to accept connections from other machines)",
                "proxy.prot: unknown key (expected one of: host, port, allow_public, max_concurrent, max_body, drain_timeout, trusted_proxies, allow_model_management)",
                "queue.high.max_depth: -1 (expected: >= 0)",
                "logging.level: loud (expected one of: trace, debug, info, warn, error)");
    }

    @Test
    void loadReadsAFileAndReportsAMissingOne(@TempDir Path dir) throws IOException, ConfigException {
        Path file = Files.writeString(dir.resolve("oqp.yaml"), "proxy: {port: 8080}\n");
        assertThat(ConfigLoader.load(file, Target.QUEUE_PROXY, Map.of()).proxy().port()).isEqualTo(8080);
        Path missing = dir.resolve("nope.yaml");
        assertThatThrownBy(() -> ConfigLoader.load(missing, Target.QUEUE_PROXY, Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessage(missing + ": config file not found");
    }

    @Test
    void recordsAreImmutable() throws ConfigException {
        OqpConfig c = Yaml.proxy("proxy: {trusted_proxies: [10.0.0.0/8]}");
        assertThatThrownBy(() -> c.proxy().trustedProxies().clear()).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> c.ollama().hosts().clear()).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> new ServiceConfig("a", 80, "127.0.0.1", false, null, Duration.ofSeconds(1),
                Duration.ofSeconds(1), 1, Map.of(), null, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("listen: 80 (expected: 1024-65535)");
    }
}
