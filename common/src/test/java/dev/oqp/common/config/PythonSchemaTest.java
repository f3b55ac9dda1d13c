package dev.oqp.common.config;

import static dev.oqp.common.config.Yaml.NO_ENV;
import static dev.oqp.common.config.Yaml.proxy;
import static dev.oqp.common.config.Yaml.proxyProblems;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** Files in the Python ollama-queue-proxy's schema: recognised, translated with its defaults, mixed ones refused. */
class PythonSchemaTest {
    private static final String PYTHON = """
            proxy:
              max_request_body_mb: 20
            ollama:
              hosts:
                - {url: "http://127.0.0.1:11434", name: a, model_sync_interval: 45}
                - {url: "http://127.0.0.1:11435", name: b, model_sync_interval: 20}
            """;

    private static LoadedConfig read(String yaml, Map<String, String> env) throws Exception {
        Path file = Files.createTempFile("oqp", ".yml");
        try {
            Files.writeString(file, yaml);
            return ConfigLoader.read(file, Target.QUEUE_PROXY, env);
        } finally {
            Files.delete(file);
        }
    }

    @Test
    void aPythonFileKeepsThePythonToolsDefaults() throws Exception {
        OqpConfig c = proxy(PYTHON);

        assertThat(c.proxy().maxBody()).isEqualTo(20L << 20);
        assertThat(c.proxy().host()).isEqualTo("127.0.0.1");
        assertThat(c.proxy().maxConcurrent()).isEqualTo(2);
        assertThat(c.proxy().allowModelManagement()).isFalse();
        assertThat(c.ollama().hosts()).allSatisfy(h -> assertThat(h.maxConcurrent()).isEqualTo(2));
        assertThat(c.ollama().modelSyncInterval()).isEqualTo(Duration.ofSeconds(20));
        assertThat(c.keepAlive().defaultValue()).isEqualTo("5m");
        assertThat(c.embeddingCache().enabled()).isFalse();
        assertThat(c.routing().strategy()).isEqualTo(RoutingConfig.Strategy.ROUND_ROBIN);
        assertThat(c.auth().enabled()).isFalse();
        assertThat(c.admin().dashboard()).isFalse();
    }

    @Test
    void everyTranslationIsNotedAndTheLoopbackDefaultIsSaid() throws Exception {
        List<String> notes = read(PYTHON, NO_ENV).notes();

        assertThat(notes.get(0)).startsWith("read as the Python ollama-queue-proxy's schema (it has")
                .contains("proxy.max_request_body_mb");
        assertThat(notes).anySatisfy(n -> assertThat(n).startsWith("proxy.max_request_body_mb → proxy.max_body (MiB)"))
                .anySatisfy(n -> assertThat(n).startsWith("proxy.host: not set; the Python tool listened on 0.0.0.0"))
                .anySatisfy(n -> assertThat(n).startsWith("ollama.hosts[].model_sync_interval → ollama.model_sync_interval: 20s"));
    }

    @Test
    void aPythonFileGetsStrictPriorityRefusedPausesItsBodyLimitOnInjectionPortsAndThePythonEntryLimit()
            throws Exception {
        OqpConfig c = proxy(PYTHON + "client_injection:\n  listeners: [{listen_port: 11501, inject_as: app}]\n");

        assertThat(c.queue().aging()).isEqualTo(Duration.ZERO);
        assertThat(c.queue().paused()).isEqualTo(QueueConfig.Paused.REFUSE);
        assertThat(c.services()).singleElement().satisfies(s -> assertThat(s.maxBody()).isEqualTo(20L << 20));
        assertThat(c.embeddingCache().maxEntryBytes()).isEqualTo(32768);
        assertThat(proxy("client_injection:\n  listeners: [{listen_port: 11501, inject_as: app}]\n").services())
                .as("not set: the Python default on both ports").singleElement()
                .satisfies(s -> assertThat(s.maxBody()).isEqualTo(50L << 20));
        assertThat(proxy("queue: {aging: 30s}\n").queue().paused()).as("an oqp file").isEqualTo(QueueConfig.Paused.HOLD);
        assertThat(proxy(PYTHON + "embedding_cache: {max_entry_bytes: 4096}\n").embeddingCache().maxEntryBytes())
                .isEqualTo(4096);
    }

    @Test
    void notesNeedingAttentionAreSetApartFromPlainTranslations() throws Exception {
        LoadedConfig loaded = read(PYTHON + "routing: {stratgy: model_aware}\ndashboard: {refresh_seconds: 5}\n",
                Map.of("OQP_PROXY__PORT", "11600"));

        assertThat(loaded.translated()).isTrue();
        assertThat(loaded.attention()).anySatisfy(n -> assertThat(n).startsWith("routing.stratgy: not a key"))
                .anySatisfy(n -> assertThat(n).startsWith("dashboard.refresh_seconds: no equivalent"))
                .anySatisfy(n -> assertThat(n).startsWith("proxy.host: not set"))
                .anySatisfy(n -> assertThat(n).startsWith("environment override OQP_PROXY__PORT"))
                .noneSatisfy(n -> assertThat(n).startsWith("proxy.max_request_body_mb → proxy.max_body"))
                .noneSatisfy(n -> assertThat(n).startsWith("read as the Python"));
        assertThat(loaded.notes()).containsAll(loaded.attention())
                .anySatisfy(n -> assertThat(n).startsWith("proxy.max_request_body_mb → proxy.max_body"));
        assertThat(read("queue: {aging: 30s}\n", NO_ENV).translated()).isFalse();
    }

    @Test
    void migratedOutputKeepsStrictPriorityAndSpeaksOfTheConvertedFile() throws Exception {
        Path file = Files.createTempFile("oqp", ".yml");
        try {
            Files.writeString(file, PYTHON + "logging: {level: INFO}\nauth:\n  keys:\n"
                    + "    - {client_id: a, key: 3f9a1c77e0b24d5a8c61f0e2b9d4a7c5, management: true}\n");
            String migrated = ConfigLoader.migrate(file, NO_ENV);

            assertThat(migrated).contains("aging: 0").contains("paused: refuse").contains("level: info")
                    .contains("max_entry_bytes: 32768").contains("superseded by `scope: management`")
                    .doesNotContain("prints the equivalent oqp file").doesNotContain("still honoured")
                    .doesNotContain("level: INFO");
        } finally {
            Files.delete(file);
        }
    }

    @Test
    void aNonLoopbackHostAsksToBePublicAndLaxScalarsAreRead() throws Exception {
        OqpConfig c = proxy("""
                proxy: {host: "0.0.0.0", port: 11500.0, max_concurrent: "4", allow_model_management: "yes"}
                ollama:
                  hosts: [{url: "http://127.0.0.1:11434", name: a}]
                  request_timeout: "120"
                client_injection:
                  allow_public_injection: "on"
                  listeners: [{listen_port: "11436", inject_as: a-client, bind: "0.0.0.0"}]
                logging: {level: WARNING}
                """);

        assertThat(c.proxy().host()).isEqualTo("0.0.0.0");
        assertThat(c.proxy().allowPublic()).isTrue();
        assertThat(c.proxy().port()).isEqualTo(11500);
        assertThat(c.proxy().maxConcurrent()).isEqualTo(4);
        assertThat(c.proxy().allowModelManagement()).isTrue();
        assertThat(c.ollama().requestTimeout()).isEqualTo(Duration.ofSeconds(120));
        assertThat(c.services()).singleElement().satisfies(s -> {
            assertThat(s.name()).isEqualTo("a-client-11436");
            assertThat(s.listen()).isEqualTo(11436);
            assertThat(s.allowPublic()).isTrue();
            assertThat(s.client()).isEqualTo("a-client");
        });
        assertThat(c.logging().level()).isEqualTo("warn");
    }

    @Test
    void managementTrueIsScopeManagementAndContradictingAScopeIsAProblem() throws ConfigException {
        String keys = "ollama:\n  hosts: [{url: \"http://127.0.0.1:11434\", name: a}]\nauth:\n  keys:\n"
                + "    - {client_id: ops, key: ops-secret-0123456789ab, management: true}\n";
        assertThat(proxy(keys).auth().keys().get(0).scope()).isEqualTo(Scope.MANAGEMENT);

        assertThat(proxyProblems(keys.replace("management: true", "management: true, scope: read")))
                .anySatisfy(p -> assertThat(p).contains("sets both management: true and scope: 'read'"));
    }

    @Test
    void shortAndPlaceholderKeysAreRefusedWithoutEchoingThemInBothSchemas() {
        String python = "auth:\n  keys:\n    - {client_id: a, key: replace-with-a-long-random-key, management: false}\n"
                + "    - {client_id: b, key: tiny-key}\n";
        String oqp = "auth:\n  keys:\n    - {client_id: a, key: changeme-changeme-changeme}\n"
                + "    - {client_id: b, key: xxxxxxxxxxxxxxxxxxxxxxxx, models: [a]}\n";

        List<String> fromPython = proxyProblems(python);
        List<String> fromOqp = proxyProblems(oqp);

        assertThat(fromPython).anySatisfy(p -> assertThat(p).startsWith("auth.keys[0].key: a placeholder"))
                .anySatisfy(p -> assertThat(p).startsWith("auth.keys[1].key: too short"));
        assertThat(fromOqp).anySatisfy(p -> assertThat(p).startsWith("auth.keys[0].key: a placeholder"))
                .anySatisfy(p -> assertThat(p).startsWith("auth.keys[1].key: a placeholder"));
        assertThat(String.join("\n", fromPython) + String.join("\n", fromOqp)).doesNotContain("replace-with-a")
                .doesNotContain("tiny-key").doesNotContain("changeme-").doesNotContain("xxxxxxxx");
    }

    @Test
    void placeholderWordsAnywhereAndThePythonReadmesExampleKeysAreRefusedWithoutEchoingThem() {
        String python = "auth:\n  keys:\n    - {client_id: a, key: sk-replace-with-a-long-random-key}\n"
                + "    - {client_id: b, key: sk-my-metrics-key, scope: read}\n"
                + "    - {client_id: c, key: My-Example-Key-For-Docs-2024}\n"
                + "    - {client_id: d, key: 3f9a1c77e0b24d5a8c61f0e2b9d4a7c5}\n";

        List<String> problems = proxyProblems(python);

        assertThat(problems).anySatisfy(p -> assertThat(p).startsWith("auth.keys[0].key: a placeholder"))
                .anySatisfy(p -> assertThat(p).startsWith("auth.keys[1].key: a placeholder"))
                .anySatisfy(p -> assertThat(p).startsWith("auth.keys[2].key: a placeholder"))
                .noneSatisfy(p -> assertThat(p).startsWith("auth.keys[3]"));
        assertThat(String.join("\n", problems)).doesNotContain("replace-with-a").doesNotContain("my-metrics")
                .doesNotContain("For-Docs").doesNotContain("3f9a1c77");
    }

    @Test
    void aMixedFileIsReadAsOqpAndEveryPythonKeyNamesItsReplacement() {
        List<String> problems = proxyProblems("""
                proxy: {max_request_body_mb: 50, max_body: 50MiB}
                queue: {max_queued_mb: 100}
                auth:
                  rate_limit: {window_seconds: 60}
                """);

        assertThat(problems).containsExactly(
                "proxy.max_request_body_mb: unknown key, use proxy.max_body (e.g. 50MiB)",
                "queue.max_queued_mb: unknown key, use queue.max_queued_bytes (e.g. 512MiB)",
                "auth.rate_limit.window_seconds: unknown key, use auth.rate_limit.window (e.g. 60s)",
                "this file mixes the Python ollama-queue-proxy's schema (auth.rate_limit.window_seconds,"
                        + " proxy.max_request_body_mb, queue.max_queued_mb) with oqp's (proxy.max_body); it is read as"
                        + " oqp's: write it in one schema (`ollama-queue-proxy migrate-config FILE` converts a file in"
                        + " the Python tool's schema)");
    }

    @Test
    void aFileOfOnlySharedKeysIsReadAsOqp() throws Exception {
        LoadedConfig c = read("ollama:\n  hosts: [{url: \"http://127.0.0.1:11434\", name: a}]\n", NO_ENV);

        assertThat(c.notes()).singleElement().satisfies(n -> assertThat(n).startsWith("read in oqp's schema")
                .contains("model management routes are open when auth is off (proxy.allow_model_management: true)")
                .contains("model_aware").contains("embedding cache is on").contains("keep_alive is not injected")
                .contains("dashboard is on").contains("migrate-config"));
        assertThat(c.config().routing().strategy()).isEqualTo(RoutingConfig.Strategy.MODEL_AWARE);
        assertThat(c.config().proxy().allowModelManagement()).isTrue();
    }

    @Test
    void anOqpFileAnEmptyOneAndAPythonOneGetNoSharedKeysNote() throws Exception {
        assertThat(read("queue: {aging: 30s}\n", NO_ENV).notes()).isEmpty();
        assertThat(read("# nothing\n", NO_ENV).notes()).isEmpty();
        assertThat(read(PYTHON, NO_ENV).notes()).noneSatisfy(n -> assertThat(n).startsWith("read in oqp's schema"));
    }

    @Test
    void anOverrideOfAPythonOnlyKeyCannotTurnAnOqpFileIntoAPythonOne() throws Exception {
        String shared = "ollama:\n  hosts: [{url: \"http://127.0.0.1:11434\", name: a}]\n";
        assertThat(proxyProblems(shared, Map.of("OQP_DASHBOARD__ENABLED", "true", "OQP_PROXY__HOST", "0.0.0.0")))
                .contains("dashboard (from OQP_DASHBOARD__ENABLED): unknown key, use admin.dashboard (true or false)")
                .noneSatisfy(p -> assertThat(p).contains("mixes"));
        assertThat(proxyProblems("", Map.of("OQP_PROXY__MAX_REQUEST_BODY_MB", "100"))).containsExactly(
                "proxy.max_request_body_mb (from OQP_PROXY__MAX_REQUEST_BODY_MB): unknown key, use proxy.max_body"
                        + " (e.g. 50MiB)");
        // The file still reads as oqp's: auth follows oqp's default, not the Python tool's off.
        OqpConfig c = read(shared + "auth:\n  keys: [{client_id: a, key: \"a-long-enough-secret-0123\"}]\n",
                Map.of("OQP_PROXY__PORT", "11600")).config();
        assertThat(c.auth().enabled()).isTrue();
    }

    @Test
    void anOverrideOfAnOqpOnlyKeyIsRefusedInAPythonFileNamingTheVariable() {
        assertThat(proxyProblems(PYTHON, Map.of("OQP_PROXY__ALLOW_PUBLIC", "true"))).anySatisfy(p -> assertThat(p)
                .startsWith("proxy.allow_public (from OQP_PROXY__ALLOW_PUBLIC): a key of oqp's schema, refused in a"
                        + " file in the Python ollama-queue-proxy's schema (it has ")
                .contains("migrate-config"));
        assertThat(proxyProblems(PYTHON, Map.of("OQP_SERVICES__0__LISTEN", "11501"))).anySatisfy(p -> assertThat(p)
                .startsWith("services (from OQP_SERVICES__0__LISTEN): a key of oqp's schema, refused"));
    }

    @Test
    void eachOverrideAppliedIsANoteNamingItsVariableAndPathButNotItsValue() throws Exception {
        List<String> notes = read("proxy: {port: 11500}\n", Map.of("OQP_PROXY__HOST", "0.0.0.0",
                "OQP_PROXY__ALLOW_PUBLIC", "true", "OQP_AUTH__ENABLED", "false")).notes();
        assertThat(notes).contains("environment override OQP_AUTH__ENABLED set auth.enabled (its value is not shown)",
                "environment override OQP_PROXY__HOST set proxy.host (its value is not shown)",
                "environment override OQP_PROXY__ALLOW_PUBLIC set proxy.allow_public (its value is not shown)");
        assertThat(notes).noneSatisfy(n -> assertThat(n).contains("0.0.0.0"));
        assertThat(read(PYTHON, Map.of("OQP_PROXY__PORT", "11600")).notes())
                .contains("environment override OQP_PROXY__PORT set proxy.port (its value is not shown)");
        assertThat(read("proxy: {port: 11500}\n", NO_ENV).notes()).noneSatisfy(n -> assertThat(n)
                .startsWith("environment override"));
    }

    @Test
    void aLiteralKeyWithDollarsInAPythonFileIsKeptAsWrittenWhenRunAndMigrated() throws Exception {
        String file = PYTHON + "auth:\n  enabled: true\n  keys:\n"
                + "    - {client_id: a, key: \"pa$$w0rd-0123456789$\"}\n"
                + "    - {client_id: b, key: \"${B_KEY}\"}\n";
        Map<String, String> env = Map.of("B_KEY", "b-secret-from-the-env-0123");

        List<KeyConfig> run = read(file, env).config().auth().keys();
        assertThat(run).extracting(KeyConfig::key).containsExactly("pa$$w0rd-0123456789$", "b-secret-from-the-env-0123");

        Path python = Files.createTempFile("oqp", ".yml");
        Path oqp = Files.createTempFile("oqp", ".yml");
        try {
            Files.writeString(python, file);
            Files.writeString(oqp, ConfigLoader.migrate(python, env));
            assertThat(ConfigLoader.read(oqp, Target.QUEUE_PROXY, env).config().auth().keys())
                    .extracting(KeyConfig::key).containsExactly("pa$$w0rd-0123456789$", "b-secret-from-the-env-0123");
        } finally {
            Files.delete(python);
            Files.delete(oqp);
        }
    }

    @Test
    void anOverrideOfAPythonKeyIsTranslatedAndNamedInItsProblem() {
        assertThat(proxyProblems(PYTHON, Map.of("OQP_PROXY__MAX_REQUEST_BODY_MB", "lots")))
                .anySatisfy(p -> assertThat(p).startsWith("proxy.max_body (from OQP_PROXY__MAX_REQUEST_BODY_MB): "));
        assertThat(proxyProblems(PYTHON.replace("max_request_body_mb: 20", "max_request_body_mb: lots")))
                .anySatisfy(p -> assertThat(p).startsWith("proxy.max_body (from proxy.max_request_body_mb): "));
    }

    @Test
    void aSectionThatIsNotAMapIsAProblemAndAKeyUnknownThereIsNoted() throws Exception {
        assertThat(proxyProblems(PYTHON + "routing: round_robin\n")).contains("routing: expected a map, got a string");
        assertThat(read(PYTHON + "keep_alive: {defualt: 10m}\n", NO_ENV).notes()).contains("keep_alive.defualt: not a"
                + " key of the Python tool's schema either; ignored, as the Python tool ignored it (check the spelling)");
    }

    @Test
    void migrateRefusesAnOqpFileAndAnEmptyOne() throws Exception {
        Path file = Files.createTempFile("oqp", ".yml");
        try {
            Files.writeString(file, "queue: {aging: 0}\n");
            assertThat(catchThrowableOfType(ConfigException.class,
                    () -> ConfigLoader.migrate(file, NO_ENV)).problems()).containsExactly("the file has oqp keys"
                            + " (queue.aging): migrate-config converts a file in the Python ollama-queue-proxy's schema only");
            Files.writeString(file, "# nothing\n");
            assertThat(catchThrowableOfType(ConfigException.class,
                    () -> ConfigLoader.migrate(file, NO_ENV)).problems())
                    .containsExactly("the file is empty (or only comments): nothing to convert");
        } finally {
            Files.delete(file);
        }
    }

    @Test
    void migrateReadsAFileOfSharedKeysAsThePythonToolDid() throws Exception {
        Path file = Files.createTempFile("oqp", ".yml");
        try {
            Files.writeString(file, "ollama:\n  hosts: [{url: \"http://127.0.0.1:11434\", name: a}]\n");
            assertThat(ConfigLoader.migrate(file, NO_ENV)).contains("strategy: round_robin").contains("default: 5m");
        } finally {
            Files.delete(file);
        }
    }
}
