package dev.oqp.queue;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.config.ConfigException;
import dev.oqp.common.config.ConfigLoader;
import dev.oqp.common.config.OqpConfig;
import dev.oqp.common.config.ServiceConfig;
import dev.oqp.common.config.Target;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.yaml.snakeyaml.Yaml;

/**
 * What can be checked of the container files without a Docker engine: every compose scenario parses, refers
 * only to files that exist, runs oqp's containers hardened with ports published on loopback that match what
 * their configuration listens on, and every configuration passes {@code --check-config} with its
 * {@code .env.example}; the Dockerfiles copy what exists, run as a non-root user and have a health check.
 */
class ComposeFilesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path ROOT = root();
    private static final Map<String, Target> OQP_IMAGES = Map.of("docker/queue-proxy.Dockerfile", Target.QUEUE_PROXY,
            "docker/sidecar.Dockerfile", Target.SIDECAR);

    private static Path root() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("compose")) && Files.isRegularFile(p.resolve("mvnw"))) {
                return p;
            }
        }
        throw new IllegalStateException("repository root not found");
    }

    @Test
    void thereAreTheFourScenarios() throws IOException {
        try (Stream<Path> files = Files.list(ROOT.resolve("compose"))) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yml")))
                    .containsExactlyInAnyOrder("sidecar.yml", "queue-proxy.yml", "mixed.yml", "replicas.yml");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sidecar.yml", "queue-proxy.yml", "mixed.yml", "replicas.yml"})
    void aScenarioIsConsistentWithItsFilesAndConfigs(String name) throws Exception {
        Path file = ROOT.resolve("compose").resolve(name);
        Path dir = file.getParent();
        JsonNode compose = compose(file);
        JsonNode services = compose.get("services");
        assertThat(services).as(name + " services").isNotNull();
        int oqpServices = 0;
        for (Map.Entry<String, JsonNode> entry : fields(services)) {
            String service = name + " " + entry.getKey();
            JsonNode s = entry.getValue();
            for (Path referenced : referencedFiles(dir, s)) {
                assertThat(referenced).as(service + " refers to").exists();
            }
            for (JsonNode port : s.path("ports")) {
                assertThat(port.asText()).as(service + " publishes on loopback only").startsWith("127.0.0.1:");
            }
            JsonNode build = s.get("build");
            if (build == null) {
                continue;
            }
            oqpServices++;
            String dockerfile = build.get("dockerfile").asText();
            assertThat(dir.resolve(build.get("context").asText()).normalize()).isEqualTo(ROOT);
            Target target = OQP_IMAGES.get(dockerfile);
            assertThat(target).as(service + " builds an oqp image").isNotNull();
            assertThat(s.get("read_only").asBoolean()).as(service + " read_only").isTrue();
            assertThat(s.get("cap_drop").toString()).as(service + " cap_drop").isEqualTo("[\"ALL\"]");
            assertThat(s.get("security_opt").toString()).as(service + " security_opt").contains("no-new-privileges:true");
            assertThat(s.has("cap_add")).as(service + " adds no capability").isFalse();

            Path config = null;
            for (JsonNode volume : s.path("volumes")) {
                String[] parts = volume.asText().split(":");
                if (parts.length >= 2 && parts[1].equals("/etc/oqp/config.yaml")) {
                    config = dir.resolve(parts[0]).normalize();
                }
            }
            assertThat(config).as(service + " mounts its config at /etc/oqp/config.yaml").isNotNull();
            Map<String, String> env = new HashMap<>();
            for (JsonNode envFile : s.path("env_file")) {
                env.putAll(dotEnv(example(dir.resolve(envFile.get("path").asText()))));
            }
            OqpConfig loaded = check(config, target, env, service);
            Set<Integer> listening = new TreeSet<>();
            if (target == Target.QUEUE_PROXY) {
                listening.add(loaded.proxy().port());
            }
            for (ServiceConfig sc : loaded.services()) {
                listening.add(sc.listen());
                assertThat(sc.bind()).as(service + " " + sc.name() + " binds every interface inside its container")
                        .isEqualTo("0.0.0.0");
            }
            Set<Integer> published = new TreeSet<>();
            for (JsonNode port : s.path("ports")) {
                String[] parts = port.asText().split(":");
                published.add(Integer.parseInt(parts[2]));
            }
            assertThat(listening).as(service + ": what it listens on includes every published port").containsAll(published);
            if (target == Target.SIDECAR) {
                assertThat(published).as(service + ": every sidecar port is published").isEqualTo(listening);
            } else if (published.isEmpty()) {
                assertThat(services.has("load-balancer")).as(service + ": published, or behind the scenario's load"
                        + " balancer").isTrue();
            } else {
                assertThat(published).as(service + ": the main port is published").contains(loaded.proxy().port());
            }
        }
        assertThat(oqpServices).as(name + " runs oqp").isPositive();
    }

    @Test
    void theMixedScenarioGivesOneFileToBothBinaries() throws Exception {
        JsonNode compose = compose(ROOT.resolve("compose/mixed.yml"));
        String sidecarConfig = compose.at("/services/sidecar/volumes/0").asText().split(":")[0];
        String proxyConfig = compose.at("/services/queue-proxy/volumes/0").asText().split(":")[0];
        assertThat(sidecarConfig).isEqualTo(proxyConfig);
        Map<String, String> env = dotEnv(ROOT.resolve("compose/mixed/.env.example"));
        OqpConfig asProxy = check(ROOT.resolve("compose").resolve(proxyConfig).normalize(), Target.QUEUE_PROXY, env, "mixed");
        for (ServiceConfig service : asProxy.services()) {
            assertThat(service.upstream().toString()).as("the sidecar forwards into the queue proxy")
                    .isEqualTo("http://queue-proxy:" + asProxy.proxy().port());
        }
    }

    @Test
    void theReplicasScenarioPutsHaproxyInFrontOfReplicasSharingOneConfigAndOneValkey() throws Exception {
        Path dir = ROOT.resolve("compose");
        JsonNode services = compose(dir.resolve("replicas.yml")).get("services");
        List<String> replicas = new ArrayList<>();
        Set<String> configs = new TreeSet<>();
        for (Map.Entry<String, JsonNode> entry : fields(services)) {
            if (entry.getValue().has("build")) {
                replicas.add(entry.getKey());
                configs.add(entry.getValue().at("/volumes/0").asText().split(":")[0]);
                assertThat(entry.getValue().get("hostname").asText()).as("its replica_id").isEqualTo(entry.getKey());
                assertThat(entry.getValue().has("ports")).as(entry.getKey() + " is reached through the balancer only")
                        .isFalse();
            }
        }
        assertThat(replicas).hasSizeGreaterThanOrEqualTo(2);
        assertThat(configs).as("one configuration for every replica").hasSize(1);
        Map<String, String> env = dotEnv(dir.resolve("replicas/.env.example"));
        OqpConfig config = check(dir.resolve(configs.iterator().next()).normalize(), Target.QUEUE_PROXY, env, "replicas");
        assertThat(config.coordination().enabled()).isTrue();
        assertThat(config.coordination().backend()).contains("@valkey:6379");
        assertThat(services.at("/valkey/command").toString()).as("coordination state is never evicted, kept on disk")
                .contains("noeviction").contains("--appendonly yes");
        assertThat(config.embeddingCache().backend()).as("the cache evicts: a Valkey of its own").contains("@valkey-cache:");
        String subnet = compose(dir.resolve("replicas.yml")).at("/networks/backend/ipam/config/0/subnet").asText();
        assertThat(config.proxy().trustedProxies().toString()).as("the balancer's X-Forwarded-For is trusted").contains(subnet);

        JsonNode balancer = services.get("load-balancer");
        assertThat(balancer.get("ports").toString()).contains("127.0.0.1:" + config.proxy().port() + ":11435");
        String haproxy = Files.readString(dir.resolve(balancer.at("/volumes/0").asText().split(":")[0]).normalize());
        assertThat(haproxy).contains("balance roundrobin", "option httpchk GET /health", "bind :11435",
                "timeout server 1h", "timeout client 1h");
        assertThat(haproxy).as("responses are not buffered").doesNotContain("http-buffer-request", "compression");
        for (String replica : replicas) {
            assertThat(haproxy).as("a server line per replica").contains("server " + replica + " " + replica + ":"
                    + config.proxy().port());
        }
    }

    @Test
    void theImagesRunAsNonRootWithAHealthCheckAndCopyOnlyWhatExists() throws Exception {
        for (String dockerfile : OQP_IMAGES.keySet()) {
            List<String> lines = Files.readAllLines(ROOT.resolve(dockerfile));
            assertThat(lines).as(dockerfile).anyMatch(l -> l.startsWith("USER 10001"));
            assertThat(lines).as(dockerfile).anyMatch(l -> l.startsWith("HEALTHCHECK"));
            assertThat(lines).as(dockerfile).anyMatch(l -> l.startsWith("FROM ") && l.contains(" AS build"));
            for (String line : lines) {
                if (line.startsWith("COPY ") && !line.contains("--from=")) {
                    String[] words = line.split("\\s+");
                    for (int i = 1; i < words.length - 1; i++) {
                        assertThat(ROOT.resolve(words[i])).as(dockerfile + ": " + line).exists();
                    }
                }
            }
            String all = String.join("\n", lines);
            assertThat(all).contains("dev.oqp.common.server.HealthProbe");
        }
        // The queue proxy image's own configuration: valid, listening where the image says.
        OqpConfig image = check(ROOT.resolve("docker/queue-proxy.yaml"), Target.QUEUE_PROXY,
                imageEnv("docker/queue-proxy.Dockerfile"), "image config");
        assertThat(image.proxy().host()).isEqualTo("0.0.0.0");
        assertThat(image.proxy().port()).isEqualTo(11435);
        assertThat(image.ollama().hosts().get(0).url().toString()).isEqualTo("http://ollama:11434");
    }

    @ParameterizedTest
    @CsvSource({
        "gpu-box:11434, http://gpu-box:11434",
        "gpu-box, http://gpu-box:11434",
        "http://gpu-box:8080, http://gpu-box:8080",
        "https://ollama.example, https://ollama.example:443",
        "0.0.0.0:11434, http://127.0.0.1:11434",
        "0.0.0.0, http://127.0.0.1:11434",
    })
    void theImageTakesAnOllamaStyleOllamaHostAsTheBareJarDoes(String ollamaHost, String url) throws Exception {
        Map<String, String> env = new HashMap<>(imageEnv("docker/queue-proxy.Dockerfile"));
        env.put("OLLAMA_HOST", ollamaHost);

        OqpConfig image = check(ROOT.resolve("docker/queue-proxy.yaml"), Target.QUEUE_PROXY, env, "image config");
        OqpConfig bare = ConfigLoader.parse("", Target.QUEUE_PROXY, env);

        assertThat(image.ollama().hosts()).singleElement().satisfies(h -> assertThat(h.url().toString()).isEqualTo(url));
        assertThat(image.ollama().hosts()).isEqualTo(bare.ollama().hosts());
    }

    /** The variables a Dockerfile's {@code ENV} lines set ({@code NAME=value}, continued lines included). */
    private static Map<String, String> imageEnv(String dockerfile) throws IOException {
        Map<String, String> env = new LinkedHashMap<>();
        boolean inEnv = false;
        for (String line : Files.readAllLines(ROOT.resolve(dockerfile))) {
            String l = line.strip();
            if (l.startsWith("ENV ")) {
                inEnv = true;
                l = l.substring(4).strip();
            } else if (!inEnv) {
                continue;
            }
            inEnv = l.endsWith("\\");
            l = inEnv ? l.substring(0, l.length() - 1).strip() : l;
            int eq = l.indexOf('=');
            if (eq > 0 && !l.contains(" ")) {
                env.put(l.substring(0, eq), l.substring(eq + 1));
            } else if (eq > 0) {
                String value = l.substring(eq + 1);
                env.put(l.substring(0, eq), value.startsWith("\"") ? value.substring(1, value.lastIndexOf('"')) : value);
            }
        }
        assertThat(env).as(dockerfile + " ENV").containsKey("OLLAMA_HOST");
        return env;
    }

    /**
     * Loads {@code config} as a user would after copying {@code .env.example} to {@code .env} and replacing its
     * {@code replace-with-…} values; with the example's values unchanged, only the keys left at them are refused.
     */
    private static OqpConfig check(Path config, Target target, Map<String, String> env, String what) {
        Map<String, String> replaced = new LinkedHashMap<>();
        env.forEach((name, value) -> replaced.put(name, value.startsWith("replace-with-")
                ? "test-" + Integer.toHexString(value.hashCode()) + "-4f9a1c2e7b3d5a60" : value));
        if (!replaced.equals(env)) {
            try {
                ConfigLoader.load(config, target, env);
            } catch (ConfigException e) {
                assertThat(e.problems()).as(what + ": with the example's values, only its placeholder keys are refused")
                        .allSatisfy(p -> assertThat(p).contains("a placeholder from an example"));
            }
        }
        try {
            return ConfigLoader.load(config, target, replaced);
        } catch (ConfigException e) {
            throw new AssertionError(what + ": " + config + " does not pass --check-config with its .env.example:\n"
                    + String.join("\n", e.problems()), e);
        }
    }

    private static Path example(Path envFile) {
        return envFile.resolveSibling(envFile.getFileName() + ".example");
    }

    /** KEY=VALUE lines; # comments and blank lines skipped. */
    static Map<String, String> dotEnv(Path file) throws IOException {
        assertThat(file).exists();
        Map<String, String> env = new LinkedHashMap<>();
        for (String line : Files.readAllLines(file)) {
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#")) {
                continue;
            }
            int eq = l.indexOf('=');
            assertThat(eq).as(file + ": " + line).isPositive();
            env.put(l.substring(0, eq), l.substring(eq + 1));
        }
        return env;
    }

    /** Local files a service refers to: bind-mount sources, env files (their examples), the build's Dockerfile. */
    private static List<Path> referencedFiles(Path dir, JsonNode service) {
        List<Path> out = new ArrayList<>();
        for (JsonNode volume : service.path("volumes")) {
            String source = volume.asText().split(":")[0];
            if (source.startsWith(".") || source.startsWith("/")) {
                out.add(dir.resolve(source).normalize());
            }
        }
        for (JsonNode envFile : service.path("env_file")) {
            out.add(example(dir.resolve(envFile.get("path").asText())));
        }
        JsonNode build = service.get("build");
        if (build != null) {
            Path context = dir.resolve(build.get("context").asText()).normalize();
            out.add(context);
            out.add(context.resolve(build.get("dockerfile").asText()));
        }
        return out;
    }

    /** A compose file as Compose reads it: anchors, aliases and merge keys ({@code <<: *hardened}) resolved. */
    private static JsonNode compose(Path file) throws IOException {
        Object tree = new Yaml().load(Files.readString(file));
        return JSON.valueToTree(tree);
    }

    private static List<Map.Entry<String, JsonNode>> fields(JsonNode node) {
        List<Map.Entry<String, JsonNode>> out = new ArrayList<>();
        node.fields().forEachRemaining(out::add);
        return out;
    }
}
