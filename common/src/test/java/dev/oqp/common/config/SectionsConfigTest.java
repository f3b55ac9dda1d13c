package dev.oqp.common.config;

import static dev.oqp.common.config.Yaml.proxy;
import static dev.oqp.common.config.Yaml.proxyProblems;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.URI;
import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.Test;

class SectionsConfigTest {

    @Test
    void proxyKeysAreBound() throws ConfigException {
        ProxyConfig p = proxy("""
                proxy:
                  host: 0.0.0.0
                  allow_public: true
                  port: 8080
                  max_concurrent: 8
                  max_body: 10MiB
                  drain_timeout: 1m
                  trusted_proxies: [10.0.0.0/8, 192.168.1.1, 'fd00::/8', '::1']
                """).proxy();
        assertThat(p.host()).isEqualTo("0.0.0.0");
        assertThat(p.port()).isEqualTo(8080);
        assertThat(p.maxConcurrent()).isEqualTo(8);
        assertThat(p.maxBody()).isEqualTo(10L << 20);
        assertThat(p.drainTimeout()).isEqualTo(Duration.ofMinutes(1));
        assertThat(p.trustedProxies()).extracting(Cidr::toString)
                .containsExactly("10.0.0.0/8", "192.168.1.1/32", "fd00:0:0:0:0:0:0:0/8", "0:0:0:0:0:0:0:1/128");
    }

    @Test
    void proxyHostNeedsAllowPublicWhenNotLoopback() {
        assertThat(proxyProblems("proxy: {host: 0.0.0.0}")).containsExactly(
                "proxy.host: 0.0.0.0 is not a loopback address (expected: allow_public: true to accept connections from other machines)");
        assertThat(proxyProblems("proxy: {host: example.com}")).containsExactly(
                "proxy.host: example.com (expected: an IP address such as 127.0.0.1, 0.0.0.0 or ::1, or localhost)");
    }

    @Test
    void proxyNumbersAreRangeChecked() {
        assertThat(proxyProblems("proxy: {port: 1023}")).containsExactly("proxy.port: 1023 (expected: 1024-65535)");
        assertThat(proxyProblems("proxy: {max_concurrent: -1}")).containsExactly("proxy.max_concurrent: -1 (expected: >= 0)");
        assertThat(proxyProblems("proxy: {max_body: 0}")).containsExactly("proxy.max_body: 0 (expected: > 0)");
        assertThat(proxyProblems("proxy: {drain_timeout: 0s}")).containsExactly("proxy.drain_timeout: 0s (expected: > 0)");
    }

    @Test
    void badTrustedProxiesAreEachReported() {
        assertThat(proxyProblems("proxy:\n  trusted_proxies: [10.0.0.0/33, example.com, 300.1.1.1, 'fd00::/129', '10.0.0.0/8']\n"))
                .containsExactly(
                        "proxy.trusted_proxies[0]: 10.0.0.0/33 (expected: a prefix length 0-32)",
                        "proxy.trusted_proxies[1]: example.com (expected: an IPv4 or IPv6 address or CIDR such as 10.0.0.0/8 or fd00::/8)",
                        "proxy.trusted_proxies[2]: 300.1.1.1 (expected: an IPv4 or IPv6 address or CIDR such as 10.0.0.0/8 or fd00::/8)",
                        "proxy.trusted_proxies[3]: fd00::/129 (expected: a prefix length 0-128)");
    }

    @Test
    void cidrMatchesAddressesInsideItsPrefixOnly() throws Exception {
        Cidr net = Cidr.parse("10.1.0.0/16");
        assertThat(net.contains(InetAddress.getByName("10.1.200.3"))).isTrue();
        assertThat(net.contains(InetAddress.getByName("10.2.0.1"))).isFalse();
        assertThat(net.contains(InetAddress.getByName("::1"))).isFalse();
        assertThat(Cidr.parse("fd00::/8").contains(InetAddress.getByName("fdab::1"))).isTrue();
        assertThat(Cidr.parse("0.0.0.0/0").contains(InetAddress.getByName("8.8.8.8"))).isTrue();
    }

    @Test
    void ollamaHostsAreBoundWithDefaults() throws ConfigException {
        OllamaConfig o = proxy("""
                ollama:
                  hosts:
                    - name: gpu-1
                      url: http://ollama:11434
                    - name: gpu-2
                      url: https://gpu2.example
                      max_concurrent: 4
                      weight: 3
                      headers: {Authorization: Bearer x}
                  connect_timeout: 1s
                """).ollama();
        assertThat(o.hosts()).containsExactly(
                new HostConfig("gpu-1", URI.create("http://ollama:11434"), 2, 1, Map.of()),
                new HostConfig("gpu-2", URI.create("https://gpu2.example"), 4, 3, Map.of("Authorization", "Bearer x")));
        assertThat(o.connectTimeout()).isEqualTo(Duration.ofSeconds(1));
        assertThat(o.requestTimeout()).isEqualTo(Duration.ofSeconds(300));
        assertThat(o.healthCheckInterval()).isEqualTo(Duration.ofSeconds(10));
        assertThat(o.modelSyncInterval()).isEqualTo(Duration.ofSeconds(15));
    }

    @Test
    void ollamaHostRulesAreEachReported() {
        assertThat(proxyProblems("""
                ollama:
                  hosts:
                    - {name: a, url: 'http://a:1', max_concurrent: 0, weight: 0}
                    - {name: a}
                    - {url: 'tcp://x', headers: {Host: x}}
                  request_timeout: 0
                """)).containsExactly(
                        "ollama.hosts[0].max_concurrent: 0 (expected: >= 1)",
                        "ollama.hosts[0].weight: 0 (expected: >= 1)",
                        "ollama.hosts[1].name: duplicate host name \"a\" (also ollama.hosts[0].name)",
                        "ollama.hosts[1].url: required (expected: an http or https URL such as http://ollama:11434)",
                        "ollama.hosts[2].name: required",
                        "ollama.hosts[2].url: scheme \"tcp\" is not supported (expected: an http or https URL such as http://ollama:11434)",
                        "ollama.hosts[2].headers.Host: this header cannot be injected (it is managed by the proxy)",
                        "ollama.request_timeout: 0 (expected: > 0)");
    }

    @Test
    void explicitlyEmptyHostListIsAProblem() {
        assertThat(proxyProblems("ollama: {hosts: []}")).containsExactly(
                "ollama.hosts: empty (expected: at least one host, or omit hosts for the default from OLLAMA_HOST)");
    }

    @Test
    void queueTiersAreBoundWithDefaultsPerTier() throws ConfigException {
        QueueConfig q = proxy("queue:\n  high: {max_depth: 5}\n  low: {max_wait: 1h}\n  overflow_status_code: 429\n  aging: 0\n"
                + "  max_queued_bytes: 1GiB\n").queue();
        assertThat(q.high()).isEqualTo(new TierConfig(5, Duration.ofSeconds(120)));
        assertThat(q.normal()).isEqualTo(new TierConfig(100, Duration.ofSeconds(300)));
        assertThat(q.low()).isEqualTo(new TierConfig(200, Duration.ofHours(1)));
        assertThat(q.tier(Tier.LOW)).isSameAs(q.low());
        assertThat(q.overflowStatusCode()).isEqualTo(429);
        assertThat(q.aging()).isZero();
        assertThat(q.maxQueuedBytes()).isEqualTo(1L << 30);
    }

    @Test
    void queueRulesAreEachReported() {
        assertThat(proxyProblems("""
                queue:
                  high: {max_depth: -1, max_wait: 0}
                  normal: {max_depth: 0}
                  low: [1]
                  overflow_status_code: 500
                  aging: -1s
                  max_queued_bytes: 0
                """)).containsExactly(
                        "queue.high.max_depth: -1 (expected: >= 0)",
                        "queue.high.max_wait: 0 (expected: > 0)",
                        "queue.low: expected a map, got a list",
                        "queue.overflow_status_code: 500 (expected: 503 or 429)",
                        "queue.aging: -1s (expected: >= 0)",
                        "queue.max_queued_bytes: 0 (expected: > 0)");
    }

    @Test
    void earlyHeadersAreOnAfterTenSecondsWithAHeartbeatEveryFifteenAndOptInForNativeStreams() throws ConfigException {
        OqpConfig defaults = proxy("");
        assertThat(defaults.queue().earlyHeadersAfter()).isEqualTo(Duration.ofSeconds(10));
        assertThat(defaults.queue().heartbeat()).isEqualTo(Duration.ofSeconds(15));
        OqpConfig c = proxy("queue: {early_headers_after: 0, heartbeat: 500ms}\n"
                + "auth:\n  keys:\n    - {client_id: a, key: a-key-0123456789abcdef, early_headers: true}\n"
                + "    - {client_id: b, key: b-key-0123456789abcdef}\n"
                + "services:\n  - {name: s, listen: 11500, client: a, early_headers: true}\n"
                + "  - {name: t, listen: 11501, client: b}\n");
        assertThat(c.queue().earlyHeadersAfter()).as("0 = never").isZero();
        assertThat(c.queue().heartbeat()).isEqualTo(Duration.ofMillis(500));
        assertThat(c.auth().keys()).extracting(KeyConfig::earlyHeaders).containsExactly(true, false);
        assertThat(c.services()).extracting(ServiceConfig::earlyHeaders).containsExactly(true, false);
        assertThat(proxyProblems("queue: {early_headers_after: -1s, heartbeat: 0}\n"
                + "auth:\n  keys:\n    - {client_id: a, key: a-key-0123456789abcdef, early_headers: sometimes}\n"))
                .containsExactlyInAnyOrder("queue.early_headers_after: -1s (expected: >= 0)",
                        "queue.heartbeat: 0 (expected: > 0)",
                        "auth.keys[0].early_headers: sometimes (expected: true or false)");
    }

    @Test
    void routingChoicesAreClosedSets() throws ConfigException {
        assertThat(proxy("routing: {strategy: least_busy, fallback: reject}").routing())
                .isEqualTo(new RoutingConfig(RoutingConfig.Strategy.LEAST_BUSY, RoutingConfig.Fallback.REJECT, true));
        assertThat(proxy("routing: {strategy: round_robin, protect_cold_loads: false}").routing())
                .isEqualTo(new RoutingConfig(RoutingConfig.Strategy.ROUND_ROBIN, RoutingConfig.Fallback.ANY_HEALTHY, false));
        assertThat(proxyProblems("routing: {strategy: random, fallback: none, protect_cold_loads: maybe}")).containsExactly(
                "routing.strategy: random (expected one of: model_aware, least_busy, round_robin)",
                "routing.fallback: none (expected one of: any_healthy, reject)",
                "routing.protect_cold_loads: maybe (expected: true or false)");
    }

    @Test
    void embeddingCacheAcceptsMemoryOrRedisUrls() throws ConfigException {
        EmbeddingCacheConfig c = proxy("""
                embedding_cache:
                  backend: redis://:pw@valkey:6379/2
                  ttl: 1h
                  max_entries: 10
                  max_entry_bytes: 64KiB
                  max_memory: 1GiB
                  timeout: 100ms
                  key_prefix: 'x:'
                  partition: client
                  required: true
                  enabled: false
                """).embeddingCache();
        assertThat(c).isEqualTo(new EmbeddingCacheConfig(false, "redis://:pw@valkey:6379/2", Duration.ofHours(1), 10,
                64L << 10, 1L << 30, Duration.ofMillis(100), "x:", EmbeddingCacheConfig.Partition.CLIENT, true));
        assertThat(c.isMemory()).isFalse();
        assertThat(c.toString()).doesNotContain("pw");
        assertThat(proxy("embedding_cache: {backend: 'rediss://valkey'}").embeddingCache().backend()).isEqualTo("rediss://valkey");
    }

    @Test
    void badCacheBackendsAreReportedWithoutThePassword() {
        assertThat(proxyProblems("embedding_cache: {backend: 'memcached://x'}"))
                .containsExactly("embedding_cache.backend: memcached://x (expected: memory, or a redis:// or rediss:// URL)");
        assertThat(proxyProblems("embedding_cache: {backend: 'redis://:hunter2@valkey:6379/x'}")).containsExactly(
                "embedding_cache.backend: redis://:***@valkey:6379/x: database x is not a non-negative integer "
                        + "(expected: redis://[[user]:password@]host[:port][/db])");
        assertThat(proxyProblems("embedding_cache: {backend: 'redis://:s3cret-p@ss/w:rd@valkey:6379/0'}")).containsExactly(
                "embedding_cache.backend: redis://:***@valkey:6379/0: the user name or password contains '/': percent-encode"
                        + " it (/ as %2F, ? as %3F, # as %23, @ as %40, [ as %5B, ] as %5D) (expected:"
                        + " redis://[[user]:password@]host[:port][/db])");
        for (String password : new String[] {"Zm9v/YmFy#c2VjcmV0", "abc/def", "p?w@x", "hunter2hunter2"}) {
            // each URL is invalid (database "x", or the mistyped scheme), so its problem is printed
            for (String url : new String[] {"redis://:" + password + "@valkey:6379/x", "redis://default:" + password
                    + "@valkey:6379/x", "rediss:/default:" + password + "@valkey:6379/0"}) {
                assertThat(String.join("\n", proxyProblems("embedding_cache: {backend: '" + url + "'}")))
                        .as(url).doesNotContain(password);
            }
        }
        assertThat(proxyProblems("embedding_cache: {backend: 'redis://valkey:6379/0?timeout=1s'}")).containsExactly(
                "embedding_cache.backend: redis://valkey:6379/0?timeout=1s: query and fragment are not supported "
                        + "(expected: redis://[[user]:password@]host[:port][/db])");
    }

    @Test
    void cacheNumbersAreRangeChecked() {
        assertThat(proxyProblems("embedding_cache: {ttl: 0, max_entries: 0, max_entry_bytes: -1, partition: team}")).containsExactly(
                "embedding_cache.ttl: 0 (expected: > 0)",
                "embedding_cache.max_entries: 0 (expected: >= 1)",
                "embedding_cache.max_entry_bytes: -1 (expected: > 0)",
                "embedding_cache.partition: team (expected one of: shared, client)");
    }

    @Test
    void keepAliveAcceptsOllamaDurationsAndSeconds() throws ConfigException {
        for (String value : new String[] {"10m", "1h30m", "-1m", "0", "300", "-1", "1.5h"}) {
            assertThat(proxy("keep_alive: {default: '" + value + "'}").keepAlive().defaultValue()).isEqualTo(value);
        }
        assertThat(proxy("keep_alive: {default: 300, override: true}").keepAlive()).isEqualTo(new KeepAliveConfig("300", true));
        assertThat(proxy("keep_alive: {default: 300}").keepAlive().jsonValue()).isEqualTo(300L);
        assertThat(proxy("keep_alive: {default: 5m}").keepAlive().jsonValue()).isEqualTo("5m");
        assertThat(proxy("").keepAlive().jsonValue()).isNull();
        assertThat(proxyProblems("keep_alive: {default: forever}")).containsExactly(
                "keep_alive.default: forever (expected: a duration such as 10m, 1h30m, -1m or 0, or whole seconds such as 300 or -1)");
    }

    @Test
    void adminLoggingAndSidecarAreBound() throws ConfigException {
        OqpConfig c = proxy("""
                admin: {metrics_public: true, dashboard: false}
                logging: {level: DEBUG, format: text, access_log: false}
                sidecar: {metrics_port: 9100, metrics_bind: 0.0.0.0, metrics_allow_public: true, drain_timeout: 5s}
                """);
        assertThat(c.admin()).isEqualTo(new AdminConfig(true, false));
        assertThat(c.logging()).isEqualTo(new LoggingConfig("debug", LoggingConfig.Format.TEXT, false));
        assertThat(c.sidecar()).isEqualTo(new SidecarConfig(9100, "0.0.0.0", true, Duration.ofSeconds(5)));
    }

    @Test
    void loggingAndSidecarRulesAreEachReported() {
        assertThat(proxyProblems("""
                logging: {level: verbose, format: xml}
                sidecar: {metrics_port: 80, metrics_bind: 10.0.0.1, drain_timeout: 0}
                """)).containsExactly(
                        "logging.level: verbose (expected one of: trace, debug, info, warn, error)",
                        "logging.format: xml (expected one of: json, text)",
                        "sidecar.metrics_port: 80 (expected: 0 or 1024-65535)",
                        "sidecar.metrics_bind: 10.0.0.1 is not a loopback address "
                                + "(expected: metrics_allow_public: true to accept connections from other machines)",
                        "sidecar.drain_timeout: 0 (expected: > 0)");
    }

    @Test
    void booleansAcceptYamlBooleansAndTheStringsTrueAndFalseOnly() throws ConfigException {
        assertThat(proxy("admin: {dashboard: 'false'}").admin().dashboard()).isFalse();
        assertThat(proxy("admin:\n  dashboard: ${D:-false}\n").admin().dashboard()).isFalse();
        assertThat(proxyProblems("admin: {dashboard: 'maybe'}")).containsExactly("admin.dashboard: maybe (expected: true or false)");
        assertThat(proxyProblems("admin: {dashboard: 1}")).containsExactly("admin.dashboard: 1 (expected: true or false)");
        assertThat(proxyProblems("admin: {dashboard: [true]}")).containsExactly("admin.dashboard: expected a boolean, got a list");
    }

    @Test
    void unknownKeysAreErrorsAtEveryLevel() {
        assertThat(proxyProblems("proxy: {prot: 1}\nqueu: {}\nqueue: {high: {depth: 1}}\nauth: {rate_limit: {max: 1}}\n"))
                .containsExactly(
                        "queu: unknown key (expected one of: services, proxy, ollama, queue, auth, routing, embedding_cache, "
                                + "keep_alive, admin, logging, sidecar, webhooks, coordination)",
                        "proxy.prot: unknown key (expected one of: host, port, allow_public, max_concurrent, max_body, "
                                + "drain_timeout, trusted_proxies, allow_model_management)",
                        "queue.high.depth: unknown key (expected one of: max_depth, max_wait, high_watermark_pct, reserved_slots,"
                                + " borrow)",
                        "auth.rate_limit.max: unknown key (expected one of: max_failures, window)");
    }

    @Test
    void wrongSectionTypesAreProblems() {
        assertThat(proxyProblems("proxy: [1]\nrouting: fast\n")).containsExactly(
                "proxy: expected a map, got a list", "routing: expected a map, got a string");
        assertThat(proxyProblems("- a\n")).containsExactly("top level: expected a map of sections, got a list");
    }
}
