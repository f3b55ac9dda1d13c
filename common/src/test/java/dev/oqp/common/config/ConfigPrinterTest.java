package dev.oqp.common.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigPrinterTest {

    @Test
    void noSecretFromTheConfigAppearsInTheOutput(@TempDir Path dir) throws IOException, ConfigException {
        Path keyFile = Files.writeString(dir.resolve("key"), "file-secret-0123456789");
        Map<String, String> env = Map.of("LC_KEY", "env-secret-0123456789", "HDR", "header-secret-from-env");
        String digest = KeyConfig.sha256Hex("digest-source-0123456789");
        OqpConfig config = ConfigLoader.parse("""
                services:
                  - name: svc
                    listen: 11437
                    upstream: http://ollama:11434
                    headers:
                      Authorization: "Bearer ${HDR}"
                      X-Api-Key: inline-header-secret
                ollama:
                  hosts:
                    - {name: gpu, url: 'http://gpu:11434', headers: {Authorization: host-header-secret}}
                auth:
                  keys:
                    - {client_id: a, key: inline-key-secret-0123}
                    - {client_id: b, key_env: LC_KEY}
                    - {client_id: c, key_file: '%s'}
                    - {client_id: d, key_sha256: %s}
                embedding_cache:
                  backend: 'redis://default:redis-password-secret@valkey:6379/1'
                """.formatted(keyFile, digest), Target.SIDECAR, env);
        String yaml = ConfigPrinter.redactedYaml(config);
        assertThat(yaml).doesNotContain("header-secret-from-env", "inline-header-secret", "host-header-secret",
                "inline-key-secret-0123", "env-secret-0123456789", "file-secret-0123456789", digest,
                KeyConfig.sha256Hex("inline-key-secret-0123"), "redis-password-secret");
        assertThat(yaml).contains("Authorization: '***'", "key: '***'", "key_env: LC_KEY", "key_file: " + keyFile,
                "key_sha256: '***'", "backend: redis://default:***@valkey:6379/1");
        assertThat(config.toString()).doesNotContain("header-secret-from-env", "inline-header-secret", "host-header-secret",
                "inline-key-secret-0123", "env-secret-0123456789", "redis-password-secret");
    }

    @Test
    void outputWithoutSecretsParsesBackToTheSameConfig() throws ConfigException {
        OqpConfig config = ConfigLoader.parse("""
                services:
                  - {name: svc, listen: 11437, upstream: 'https://o:1', timeout: 1h30m, max_body: 3MiB, client: a}
                proxy: {port: 8080, trusted_proxies: [10.0.0.0/8], drain_timeout: 250ms}
                queue: {aging: 0, low: {max_depth: 0}}
                auth:
                  keys: [{client_id: a, key_env: K, models: ['llama$$3*']}]
                embedding_cache: {key_prefix: 'p$$:', partition: client}
                keep_alive: {default: '300'}
                logging: {format: text}
                sidecar: {metrics_port: 9100}
                """, Target.QUEUE_PROXY, Map.of("K", "0123456789abcdef0123"));
        String yaml = ConfigPrinter.redactedYaml(config);
        assertThat(ConfigLoader.parse(yaml, Target.QUEUE_PROXY, Map.of("K", "0123456789abcdef0123"))).isEqualTo(config);
    }

    @Test
    void defaultsPrintEverySection() throws ConfigException {
        String yaml = ConfigPrinter.redactedYaml(ConfigLoader.defaults(Target.QUEUE_PROXY, Map.of()));
        for (String section : new String[] {"services:", "proxy:", "ollama:", "queue:", "auth:", "routing:",
                "embedding_cache:", "keep_alive:", "admin:", "logging:", "sidecar:"}) {
            assertThat("\n" + yaml).contains("\n" + section);
        }
        assertThat(yaml).contains("max_queued_bytes: 512MiB", "ttl: 24h", "url: http://127.0.0.1:11434");
    }

    @Test
    void eachBinaryPrintsOnlyTheSectionsItActsOn() throws ConfigException {
        OqpConfig config = ConfigLoader.defaults(Target.QUEUE_PROXY, Map.of());

        assertThat("\n" + ConfigPrinter.redactedYaml(config, Target.QUEUE_PROXY)).doesNotContain("\nsidecar:")
                .contains("\nproxy:");
        assertThat("\n" + ConfigPrinter.redactedYaml(config, Target.SIDECAR)).contains("\nsidecar:")
                .doesNotContain("\nproxy:").doesNotContain("\nqueue:");
    }
}
