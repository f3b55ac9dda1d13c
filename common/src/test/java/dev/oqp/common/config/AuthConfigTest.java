package dev.oqp.common.config;

import static dev.oqp.common.config.Yaml.proxy;
import static dev.oqp.common.config.Yaml.proxyProblems;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuthConfigTest {

    private static final String SECRET = "librechat-secret-0123456789";
    private static final String SECRET_SHA = KeyConfig.sha256Hex(SECRET);

    @Test
    void authIsOffWithoutKeysAndOnWithThem() throws ConfigException {
        assertThat(proxy("").auth()).isEqualTo(new AuthConfig(false, List.of(), RateLimitConfig.DEFAULT));
        AuthConfig auth = proxy("auth:\n  keys:\n    - {client_id: a, key: " + SECRET + "}\n").auth();
        assertThat(auth.enabled()).isTrue();
        assertThat(proxy("auth:\n  enabled: false\n  keys:\n    - {client_id: a, key: " + SECRET + "}\n").auth().enabled()).isFalse();
    }

    @Test
    void rateLimitsAreReadPerKeyAndZeroMeansNone() throws ConfigException {
        AuthConfig auth = proxy("auth:\n  keys:\n    - {client_id: a, key: " + SECRET + ", requests_per_minute: 60,"
                + " tokens_per_minute: 1000, tokens_per_day: 50000}\n    - {client_id: b, key: " + SECRET + "x}\n").auth();
        assertThat(auth.keys().get(0).limits()).isEqualTo(new RateLimits(60, 1000, 50_000));
        assertThat(auth.keys().get(1).limits()).isEqualTo(RateLimits.NONE);
        assertThat(auth.keys().get(1).limits().any()).isFalse();
        assertThat(proxyProblems("auth:\n  keys:\n    - {client_id: a, key: " + SECRET + ", requests_per_minute: -1,"
                + " tokens_per_day: x}\n")).hasSize(2).allMatch(p -> p.startsWith("auth.keys[0]."));
    }

    @Test
    void explicitlyEnabledWithoutKeysIsAProblem() {
        assertThat(proxyProblems("auth: {enabled: true}"))
                .containsExactly("auth.enabled: true but auth.keys is empty (expected: at least one key)");
    }

    @Test
    void inlineKeyIsResolvedWithItsDigestAndDefaults() throws ConfigException {
        KeyConfig k = proxy("auth:\n  keys:\n    - {client_id: librechat, key: '" + SECRET + "'}\n").auth().keys().get(0);
        assertThat(k).isEqualTo(new KeyConfig("librechat", KeyConfig.Source.KEY, SECRET, SECRET_SHA, null, null,
                Tier.NORMAL, Scope.INFERENCE, 0, List.of()));
        assertThat(k.toString()).doesNotContain(SECRET).doesNotContain(SECRET_SHA);
    }

    @Test
    void everyKeyOptionIsBound() throws ConfigException {
        KeyConfig k = proxy("""
                auth:
                  keys:
                    - client_id: ops
                      key_sha256: %s
                      max_priority: high
                      scope: management
                      max_concurrent: 3
                      models: ['llama3*', qwen2.5:7b]
                  rate_limit: {max_failures: 5, window: 5m}
                """.formatted(SECRET_SHA.toUpperCase())).auth().keys().get(0);
        assertThat(k).isEqualTo(new KeyConfig("ops", KeyConfig.Source.KEY_SHA256, null, SECRET_SHA, null, null,
                Tier.HIGH, Scope.MANAGEMENT, 3, List.of("llama3*", "qwen2.5:7b")));
        assertThat(proxy("auth: {rate_limit: {max_failures: 5, window: 5m}}").auth().rateLimit())
                .isEqualTo(new RateLimitConfig(5, Duration.ofMinutes(5)));
    }

    @Test
    void keyEnvIsResolvedAtLoad() throws ConfigException {
        KeyConfig k = proxy("auth:\n  keys:\n    - {client_id: a, key_env: LC_KEY}\n", Map.of("LC_KEY", SECRET)).auth().keys().get(0);
        assertThat(k.key()).isEqualTo(SECRET);
        assertThat(k.keyEnv()).isEqualTo("LC_KEY");
        assertThat(k.keySha256()).isEqualTo(SECRET_SHA);
    }

    @Test
    void keyEnvMustNameASetNonEmptyVariable() {
        String yaml = "auth:\n  keys:\n    - {client_id: a, key_env: LC_KEY}\n";
        assertThat(proxyProblems(yaml)).containsExactly("auth.keys[0].key_env: environment variable LC_KEY is not set");
        assertThat(Yaml.proxyProblems(yaml, Map.of("LC_KEY", ""))).containsExactly("auth.keys[0].key_env: environment variable LC_KEY is empty");
        assertThat(proxyProblems("auth:\n  keys:\n    - {client_id: a, key_env: 'A-B'}\n"))
                .containsExactly("auth.keys[0].key_env: A-B (expected: an environment variable name)");
    }

    @Test
    void keyFileIsReadAndTrimmed(@TempDir Path dir) throws IOException, ConfigException {
        Path file = Files.writeString(dir.resolve("key"), "  " + SECRET + "\n");
        KeyConfig k = proxy("auth:\n  keys:\n    - {client_id: a, key_file: '" + file + "'}\n").auth().keys().get(0);
        assertThat(k.key()).isEqualTo(SECRET);
        assertThat(k.keyFile()).isEqualTo(file);
    }

    @Test
    void keyFileMustExistAndHoldAKey(@TempDir Path dir) throws IOException {
        Path missing = dir.resolve("missing");
        assertThat(proxyProblems("auth:\n  keys:\n    - {client_id: a, key_file: '" + missing + "'}\n"))
                .containsExactly("auth.keys[0].key_file: " + missing + " does not exist");
        Path empty = Files.writeString(dir.resolve("empty"), "\n");
        assertThat(proxyProblems("auth:\n  keys:\n    - {client_id: a, key_file: '" + empty + "'}\n"))
                .containsExactly("auth.keys[0].key_file: empty (expected: a secret of at least 16 characters)");
    }

    @Test
    void exactlyOneKeySourceIsRequired() {
        assertThat(proxyProblems("auth:\n  keys:\n    - {client_id: a}\n"))
                .containsExactly("auth.keys[0]: no key (expected exactly one of: key, key_env, key_file, key_sha256)");
        assertThat(proxyProblems("auth:\n  keys:\n    - {client_id: a, key: " + SECRET + ", key_env: X}\n"))
                .containsExactly("auth.keys[0]: key, key_env are all set (expected exactly one of: key, key_env, key_file, key_sha256)");
    }

    @Test
    void shortOrBlankKeysAreRefusedWithoutEchoingThem() {
        List<String> problems = proxyProblems("auth:\n  keys:\n    - {client_id: a, key: short-secret}\n    - {client_id: b, key: 'has space in the middle'}\n");
        assertThat(problems).containsExactly(
                "auth.keys[0].key: too short (expected: a secret of at least 16 characters)",
                "auth.keys[1].key: contains whitespace or a control character (expected: a bearer token)");
        assertThat(String.join("\n", problems)).doesNotContain("short-secret");
    }

    @Test
    void keySha256MustBe64HexCharacters() {
        assertThat(proxyProblems("auth:\n  keys:\n    - {client_id: a, key_sha256: abc}\n"))
                .containsExactly("auth.keys[0].key_sha256: not a SHA-256 digest (expected: 64 hexadecimal characters)");
    }

    @Test
    void clientIdIsRequiredUniqueAndAnId() {
        assertThat(proxyProblems("""
                auth:
                  keys:
                    - {key: aaaaaaaaaaaaaaaa1}
                    - {client_id: 'a/b', key: aaaaaaaaaaaaaaaa2}
                    - {client_id: c, key: aaaaaaaaaaaaaaaa3}
                    - {client_id: c, key: aaaaaaaaaaaaaaaa4}
                """)).containsExactly(
                        "auth.keys[0].client_id: required",
                        "auth.keys[1].client_id: a/b (expected: 1-64 characters of A-Z a-z 0-9 . _ -)",
                        "auth.keys[3].client_id: duplicate client_id \"c\" (also auth.keys[2].client_id)");
    }

    @Test
    void twoClientsWithTheSameSecretOrDigestAreAProblemThatHidesTheSecret() {
        List<String> problems = Yaml.proxyProblems("""
                auth:
                  keys:
                    - {client_id: a, key: %s}
                    - {client_id: b, key_env: SAME}
                    - {client_id: c, key_sha256: %s}
                """.formatted(SECRET, SECRET_SHA), Map.of("SAME", SECRET));
        assertThat(problems).containsExactly(
                "auth.keys[1].key_env: same key as auth.keys[0] (expected: a distinct key per client)",
                "auth.keys[2].key_sha256: same key as auth.keys[0] (expected: a distinct key per client)");
        assertThat(String.join("\n", problems)).doesNotContain(SECRET).doesNotContain(SECRET_SHA);
    }

    @Test
    void duplicateClientIdAndDuplicateKeyAreBothReportedAtOnceWhateverTheKeySpelling(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("key"), SECRET + "\n");
        List<String> problems = proxyProblems("""
                auth:
                  keys:
                    - {client_id: a, key_sha256: %s}
                    - {client_id: a, key: other-secret-0123456789}
                    - {client_id: b, key_file: '%s'}
                """.formatted(SECRET_SHA.toUpperCase(), file));
        assertThat(problems).containsExactly(
                "auth.keys[1].client_id: duplicate client_id \"a\" (also auth.keys[0].client_id)",
                "auth.keys[2].key_file: same key as auth.keys[0] (expected: a distinct key per client)");
        assertThat(String.join("\n", problems)).doesNotContain(SECRET).doesNotContainIgnoringCase(SECRET_SHA);
    }

    @Test
    void keyOptionsAreRangeChecked() {
        assertThat(proxyProblems("""
                auth:
                  keys:
                    - {client_id: a, key: %s, max_priority: urgent, scope: admin, max_concurrent: -1, models: ['', x]}
                  rate_limit: {max_failures: 0, window: 0}
                """.formatted(SECRET))).containsExactly(
                        "auth.keys[0].max_priority: urgent (expected one of: high, normal, low)",
                        "auth.keys[0].scope: admin (expected one of: read, inference, management)",
                        "auth.keys[0].max_concurrent: -1 (expected: >= 0)",
                        "auth.keys[0].models[0]: \"\" (expected: a model name or glob such as llama3* or qwen2.5:7b)",
                        "auth.rate_limit.max_failures: 0 (expected: >= 1)",
                        "auth.rate_limit.window: 0 (expected: > 0)");
    }

    @Test
    void scopesAndTiersOrderAsDocumented() {
        assertThat(Scope.MANAGEMENT.allows(Scope.READ)).isTrue();
        assertThat(Scope.READ.allows(Scope.INFERENCE)).isFalse();
        assertThat(Tier.HIGH.min(Tier.NORMAL)).isEqualTo(Tier.NORMAL);
        assertThat(Tier.LOW.min(Tier.HIGH)).isEqualTo(Tier.LOW);
    }
}
