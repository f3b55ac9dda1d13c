package dev.oqp.common.config;

import static dev.oqp.common.config.Yaml.proxy;
import static dev.oqp.common.config.Yaml.proxyProblems;
import static dev.oqp.common.config.Yaml.sidecar;
import static dev.oqp.common.config.Yaml.sidecarProblems;
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

class ServicesConfigTest {

    private static String service(String extra) {
        return "services:\n  - name: svc\n    listen: 11437\n    upstream: http://ollama:11434\n" + extra;
    }

    @Test
    void minimalSidecarServiceGetsEveryDefault() throws ConfigException {
        ServiceConfig s = sidecar(service("")).services().get(0);
        assertThat(s).isEqualTo(new ServiceConfig("svc", 11437, "127.0.0.1", false, URI.create("http://ollama:11434"),
                Duration.ofSeconds(300), Duration.ofSeconds(10), 64L << 20, Map.of(), null, null));
    }

    @Test
    void everyServiceKeyIsBound() throws ConfigException {
        ServiceConfig s = sidecar("""
                services:
                  - name: memsearch-watch
                    listen: 11437
                    bind: 0.0.0.0
                    allow_public: true
                    upstream: HTTPS://gpu.example:8443/
                    timeout: 5m
                    connect_timeout: 2s
                    max_body: 1MiB
                    headers:
                      Authorization: "Bearer abc"
                      X-Queue-Priority: low
                    client: memsearch
                """).services().get(0);
        assertThat(s.bind()).isEqualTo("0.0.0.0");
        assertThat(s.allowPublic()).isTrue();
        assertThat(s.upstream()).isEqualTo(URI.create("https://gpu.example:8443"));
        assertThat(s.timeout()).isEqualTo(Duration.ofMinutes(5));
        assertThat(s.connectTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(s.maxBody()).isEqualTo(1L << 20);
        assertThat(s.headers()).containsExactly(Map.entry("Authorization", "Bearer abc"),
                Map.entry("X-Queue-Priority", "low"));
        assertThat(s.client()).isEqualTo("memsearch");
        assertThatThrownBy(() -> s.headers().put("X", "y")).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void sidecarNeedsAtLeastOneService() {
        assertThat(sidecarProblems("")).containsExactly("services: at least one service is required by ollama-auth-sidecar");
        assertThat(sidecarProblems("services: []")).containsExactly("services: at least one service is required by ollama-auth-sidecar");
    }

    @Test
    void sidecarNeedsAnUpstreamOnEveryServiceButTheQueueProxyDoesNot() throws ConfigException {
        String yaml = "services:\n  - name: a\n    listen: 11437\n";
        assertThat(sidecarProblems(yaml)).containsExactly("services[0].upstream: required by ollama-auth-sidecar");
        assertThat(proxy(yaml).services().get(0).upstream()).isNull();
    }

    @Test
    void nameIsRequiredAndMustBeAnId() {
        assertThat(proxyProblems("services:\n  - listen: 11437\n")).containsExactly("services[0].name: required");
        assertThat(proxyProblems("services:\n  - name: 'a b'\n    listen: 11437\n"))
                .containsExactly("services[0].name: a b (expected: 1-64 characters of A-Z a-z 0-9 . _ -)");
        assertThat(proxyProblems("services:\n  - name: ''\n    listen: 11437\n"))
                .containsExactly("services[0].name: \"\" (expected: 1-64 characters of A-Z a-z 0-9 . _ -)");
    }

    @Test
    void duplicateServiceNameIsReportedWithTheFirstPath() {
        assertThat(proxyProblems("""
                services:
                  - {name: x, listen: 11437}
                  - {name: y, listen: 11438}
                  - {name: x, listen: 11439}
                """)).containsExactly("services[2].name: duplicate service name \"x\" (also services[0].name)");
    }

    @Test
    void listenIsRequiredAndInRange() {
        assertThat(proxyProblems("services:\n  - name: a\n")).containsExactly("services[0].listen: required (expected: a port 1024-65535)");
        assertThat(proxyProblems("services:\n  - {name: a, listen: 80}\n")).containsExactly("services[0].listen: 80 (expected: 1024-65535)");
        assertThat(proxyProblems("services:\n  - {name: a, listen: 65536}\n")).containsExactly("services[0].listen: 65536 (expected: 1024-65535)");
        assertThat(proxyProblems("services:\n  - {name: a, listen: abc}\n"))
                .containsExactly("services[0].listen: abc (expected: an integer 1024-65535)");
        assertThat(proxyProblems("services:\n  - {name: a, listen: [1]}\n"))
                .containsExactly("services[0].listen: expected an integer, got a list");
    }

    @Test
    void duplicateServicePortIsReportedWithBothPaths() {
        assertThat(proxyProblems("""
                services:
                  - {name: a, listen: 11437}
                  - {name: b, listen: 11437}
                """)).containsExactly("services[1].listen: port 11437 is already used by services[0].listen");
    }

    @Test
    void servicePortMayNotCollideWithProxyPortOrSidecarMetricsPort() {
        assertThat(proxyProblems("""
                services:
                  - {name: a, listen: 11435}
                  - {name: b, listen: 9100}
                sidecar:
                  metrics_port: 9100
                """)).containsExactly(
                        "proxy.port (default): port 11435 is already used by services[0].listen",
                        "sidecar.metrics_port: port 9100 is already used by services[1].listen");
        assertThat(proxyProblems("services:\n  - {name: a, listen: 2000}\nproxy:\n  port: 2000\n"))
                .containsExactly("proxy.port: port 2000 is already used by services[0].listen");
    }

    @Test
    void sidecarIgnoresTheDefaultProxyPortButNotAnExplicitOne() throws ConfigException {
        assertThat(sidecar("services:\n  - {name: a, listen: 11435, upstream: 'http://o:11434'}\n").services()).hasSize(1);
        assertThat(sidecarProblems("services:\n  - {name: a, listen: 11435, upstream: 'http://o:11434'}\nproxy: {port: 11435}\n"))
                .containsExactly("proxy.port: port 11435 is already used by services[0].listen");
    }

    @Test
    void bindMustBeAnIpLiteralOrLocalhost() throws ConfigException {
        assertThat(proxyProblems(service("    bind: ollama.local\n")))
                .containsExactly("services[0].bind: ollama.local (expected: an IP address such as 127.0.0.1, 0.0.0.0 or ::1, or localhost)");
        assertThat(proxy(service("    bind: localhost\n")).services().get(0).bind()).isEqualTo("localhost");
        assertThat(proxy(service("    bind: '::1'\n")).services().get(0).bind()).isEqualTo("::1");
        assertThat(proxy(service("    bind: 127.0.0.2\n")).services().get(0).bind()).isEqualTo("127.0.0.2");
    }

    @Test
    void nonLoopbackBindNeedsAllowPublic() throws ConfigException {
        assertThat(proxyProblems(service("    bind: 0.0.0.0\n"))).containsExactly(
                "services[0].bind: 0.0.0.0 is not a loopback address (expected: allow_public: true to accept connections from other machines)");
        assertThat(proxyProblems(service("    bind: '::'\n"))).hasSize(1);
        assertThat(proxyProblems(service("    bind: 192.168.1.5\n"))).hasSize(1);
        assertThat(proxy(service("    bind: '::'\n    allow_public: true\n")).services().get(0).allowPublic()).isTrue();
    }

    @Test
    void upstreamMustBeAnAbsoluteHttpUrlWithoutExtras() {
        String expected = " (expected: an http or https URL such as http://ollama:11434)";
        assertThat(proxyProblems("services:\n  - {name: a, listen: 2000, upstream: 'ftp://o'}\n"))
                .containsExactly("services[0].upstream: scheme \"ftp\" is not supported" + expected);
        assertThat(proxyProblems("services:\n  - {name: a, listen: 2000, upstream: 'ollama:11434'}\n"))
                .containsExactly("services[0].upstream: no scheme: write http://ollama:11434" + expected);
        assertThat(proxyProblems("services:\n  - {name: a, listen: 2000, upstream: '127.0.0.1:11434'}\n"))
                .containsExactly("services[0].upstream: no scheme: write http://127.0.0.1:11434" + expected);
        assertThat(proxyProblems("services:\n  - {name: a, listen: 2000, upstream: 'ollama:11434/x'}\n"))
                .containsExactly("services[0].upstream: not an absolute URL" + expected);
        assertThat(proxyProblems("services:\n  - {name: a, listen: 2000, upstream: '/api'}\n"))
                .containsExactly("services[0].upstream: not an absolute URL" + expected);
        assertThat(proxyProblems("services:\n  - {name: a, listen: 2000, upstream: 'http://o:1/x?y=1'}\n"))
                .containsExactly("services[0].upstream: http://o:1 has a query or fragment (expected: scheme://host[:port])");
        assertThat(proxyProblems("services:\n  - {name: a, listen: 2000, upstream: 'http://o:1/ollama'}\n"))
                .containsExactly("services[0].upstream: http://o:1 is followed by a path (not shown; expected: scheme://host[:port], paths are"
                        + " not supported)");
        assertThat(String.join("\n", proxyProblems("services:\n  - {name: a, listen: 2000, upstream: "
                + "'https://gw.example/sk-live-SECRET1?api_key=sk-live-SECRET2'}\n")))
                .as("a path or query may hold a secret: never echoed").doesNotContain("SECRET");
        assertThat(proxyProblems("services:\n  - {name: a, listen: 2000, upstream: 'http://'}\n"))
                .containsExactly("services[0].upstream: not a valid URL" + expected);
    }

    @Test
    void upstreamCredentialsAreRefusedWithoutEchoingThem() {
        List<String> problems = proxyProblems("services:\n  - {name: a, listen: 2000, upstream: 'http://u:s3cret@o:1'}\n");
        assertThat(problems).containsExactly(
                "services[0].upstream: credentials in the URL are not allowed (expected: put them in headers, e.g. Authorization)");
    }

    @Test
    void timeoutsMustBePositiveDurations() {
        assertThat(proxyProblems(service("    timeout: 0\n"))).containsExactly("services[0].timeout: 0 (expected: > 0)");
        assertThat(proxyProblems(service("    connect_timeout: -1s\n"))).containsExactly("services[0].connect_timeout: -1s (expected: > 0)");
        assertThat(proxyProblems(service("    timeout: soon\n")))
                .containsExactly("services[0].timeout: soon (expected: a duration such as 250ms, 30s, 5m, 1h30m, or whole seconds)");
    }

    @Test
    void maxBodyMustBeAPositiveSize() {
        assertThat(proxyProblems(service("    max_body: 0\n"))).containsExactly("services[0].max_body: 0 (expected: > 0)");
        assertThat(proxyProblems(service("    max_body: lots\n")))
                .containsExactly("services[0].max_body: lots (expected: a size such as 64KiB, 50MiB, 1GiB, or whole bytes)");
    }

    @Test
    void headersMustBeAMapOfStrings() {
        assertThat(proxyProblems(service("    headers: [a]\n"))).containsExactly("services[0].headers: expected a map, got a list");
        assertThat(proxyProblems(service("    headers:\n      X-A: {b: c}\n")))
                .containsExactly("services[0].headers.X-A: expected a string, got a map");
        assertThat(proxyProblems(service("    headers:\n      X-A: yes\n")))
                .containsExactly("services[0].headers.X-A: expected a string, got a boolean (quote the value)");
        assertThat(proxyProblems(service("    headers:\n      X-A:\n")))
                .containsExactly("services[0].headers.X-A: expected a string, got null");
    }

    @Test
    void headerNamesMustBeTokens() {
        assertThat(proxyProblems(service("    headers:\n      'X A': b\n")))
                .containsExactly("services[0].headers.X A: not a valid header name (expected: RFC 9110 token characters)");
        assertThat(proxyProblems(service("    headers:\n      'X:A': b\n"))).hasSize(1);
    }

    @Test
    void hopByHopAndFramingHeadersCannotBeInjected() {
        for (String name : List.of("Host", "content-length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade",
                "TE", "Trailer", "Proxy-Connection")) {
            assertThat(proxyProblems(service("    headers:\n      " + name + ": x\n")))
                    .containsExactly("services[0].headers." + name + ": this header cannot be injected (it is managed by the proxy)");
        }
    }

    @Test
    void headerNamesDifferingOnlyInCaseAreDuplicates() {
        assertThat(proxyProblems(service("    headers:\n      Authorization: a\n      authorization: b\n")))
                .containsExactly("services[0].headers.authorization: duplicate header (also services[0].headers.Authorization)");
    }

    @Test
    void headerValuesMayNotCarryControlCharactersButMayCarryTabs() throws ConfigException {
        String message = "services[0].headers.X-A: value contains a control character such as CR, LF or NUL (expected: printable text)";
        assertThat(proxyProblems(service("    headers:\n      X-A: \"a\\r\\nInjected: yes\"\n"))).containsExactly(message);
        assertThat(proxyProblems(service("    headers:\n      X-A: \"a\\nb\"\n"))).containsExactly(message);
        assertThat(proxyProblems(service("    headers:\n      X-A: \"a\\0b\"\n"))).containsExactly(message);
        assertThat(proxyProblems(service("    headers:\n      X-A: \"a\\x7fb\"\n"))).containsExactly(message);
        assertThat(proxy(service("    headers:\n      X-A: \"a\\tb\"\n")).services().get(0).headers()).containsEntry("X-A", "a\tb");
    }

    @Test
    void headerValuesMustBeAscii() {
        String message = "services[0].headers.X-A: value contains a non-ASCII character (expected: printable ASCII text)";
        assertThat(proxyProblems(service("    headers:\n      X-A: \"caf\u00e9\"\n"))).containsExactly(message);
        assertThat(Yaml.proxyProblems(service("    headers:\n      Authorization: \"Bearer ${K}\"\n"),
                Map.of("K", "\u2026"))).containsExactly(message.replace("X-A", "Authorization"));
    }

    @Test
    void headerValueFromEnvironmentIsCheckedForControlCharacters() {
        assertThat(Yaml.proxyProblems(service("    headers:\n      X-A: ${V}\n"), Map.of("V", "a\r\nb")))
                .containsExactly("services[0].headers.X-A: value contains a control character such as CR, LF or NUL (expected: printable text)");
    }

    @Test
    void clientMustBeANonEmptyId() {
        assertThat(proxyProblems(service("    client: ''\n")))
                .containsExactly("services[0].client: \"\" (expected: 1-64 characters of A-Z a-z 0-9 . _ -)");
    }

    private static final String LC_SECRET = "librechat-secret-0123456789";
    private static final String MS_SECRET = "memsearch-secret-0123456789";
    private static final String KEYS = """
            auth:
              keys:
                - {client_id: librechat, key: %s}
                - {client_id: memsearch-watch, key_env: MS_KEY}
            """.formatted(LC_SECRET);
    private static final Map<String, String> KEY_ENV = Map.of("MS_KEY", MS_SECRET);
    private static final String NO_IDENTITY = "no client identity: auth is enabled, so a service needs an Authorization"
            + " header carrying a key of auth.keys, or client naming one of their client_id";
    private static final String UNKNOWN_KEY = NO_IDENTITY + "; its Authorization header carries no key of auth.keys";

    @Test
    void serviceWithoutIdentityUnderAuthIsAnError() {
        assertThat(Yaml.proxyProblems(service("") + KEYS, KEY_ENV)).containsExactly("services[0] (svc): " + NO_IDENTITY);
        assertThat(Yaml.proxyProblems(service("    headers: {X-Queue-Priority: low}\n") + KEYS, KEY_ENV))
                .containsExactly("services[0] (svc): " + NO_IDENTITY);
    }

    @Test
    void serviceClientMustNameAConfiguredClient() throws ConfigException {
        assertThat(Yaml.proxyProblems(service("    client: memsearch\n") + KEYS, KEY_ENV)).containsExactly(
                "services[0].client: memsearch is not a client_id of auth.keys (expected: one of librechat, memsearch-watch)");
        assertThat(Yaml.proxyProblems(service("    client: Librechat\n") + KEYS, KEY_ENV))
                .as("client ids are matched exactly").hasSize(1);
        assertThat(proxy(service("    client: memsearch-watch\n") + KEYS, KEY_ENV).services().get(0).client())
                .isEqualTo("memsearch-watch");
    }

    @Test
    void serviceClientIsCheckedEvenWhenTheInjectedKeyIsKnown() {
        assertThat(Yaml.proxyProblems(service("    headers: {Authorization: 'Bearer " + LC_SECRET + "'}\n    client: nobody\n")
                + KEYS, KEY_ENV)).containsExactly(
                        "services[0].client: nobody is not a client_id of auth.keys (expected: one of librechat, memsearch-watch)");
    }

    @Test
    void serviceWithInjectedKnownKeyNeedsNoClient() throws ConfigException {
        Map<String, String> env = Map.of("MS_KEY", MS_SECRET, "LC", LC_SECRET);
        assertThat(proxy(service("    headers:\n      Authorization: \"Bearer ${LC}\"\n") + KEYS, env).services()).hasSize(1);
        assertThat(proxy(service("    headers:\n      authorization: \"  bEaReR \t " + MS_SECRET + "  \"\n") + KEYS, env)
                .services()).as("header name and scheme ignore case; spaces and tabs around the token").hasSize(1);
        assertThat(proxy(service("    headers: {Authorization: 'Bearer " + LC_SECRET + "'}\n")
                + "auth:\n  keys:\n    - {client_id: a, key_sha256: " + KeyConfig.sha256Hex(LC_SECRET).toUpperCase() + "}\n")
                .services()).as("a key given by its digest is known too").hasSize(1);
    }

    @Test
    void unknownInjectedKeyIsNotEchoed() {
        for (String value : List.of("Bearer unknown-secret-0123456789", "Basic dW5rbm93bi1zZWNyZXQ=",
                "Bearer", "Bearerunknown-secret-0123456789", "Bearer unknown-secret 0123456789", LC_SECRET)) {
            List<String> problems = Yaml.proxyProblems(service("    headers: {Authorization: '" + value + "'}\n") + KEYS, KEY_ENV);
            assertThat(problems).as(value).containsExactly("services[0] (svc): " + UNKNOWN_KEY);
            assertThat(String.join("\n", problems)).doesNotContain("unknown-secret", "dW5rbm93bi1zZWNyZXQ", LC_SECRET);
        }
    }

    @Test
    void unknownInjectedKeyWithAClientIsFine() throws ConfigException {
        assertThat(proxy(service("    headers: {Authorization: 'Bearer unknown-secret-0123456789'}\n    client: librechat\n")
                + KEYS, KEY_ENV).services().get(0).client()).isEqualTo("librechat");
    }

    @Test
    void serviceIdentityNotRequiredWhenAuthDisabled() throws ConfigException {
        String services = service("    client: nobody\n")
                + "  - {name: b, listen: 11438, headers: {Authorization: 'Bearer unknown-secret-0123456789'}}\n"
                + "  - {name: c, listen: 11439}\n";
        assertThat(proxy(services).services()).hasSize(3);
        assertThat(proxy(services + KEYS.replace("auth:\n", "auth:\n  enabled: false\n"), KEY_ENV).services()).hasSize(3);
    }

    @Test
    void sidecarDoesNotRequireServiceIdentity() throws ConfigException {
        String services = service("    client: nobody\n")
                + "  - {name: b, listen: 11438, upstream: 'http://o:1', headers: {Authorization: 'Bearer unknown-secret-0123456789'}}\n"
                + "  - {name: c, listen: 11439, upstream: 'http://o:1'}\n";
        assertThat(ConfigLoader.parse(services + KEYS, Target.SIDECAR, KEY_ENV).services()).hasSize(3);
    }

    @Test
    void everyServiceIdentityProblemIsReportedAtOnceWithTheServicesOtherProblems() {
        assertThat(Yaml.proxyProblems("""
                services:
                  - {name: a, listen: 80}
                  - {name: b, listen: 11438, client: memsearch}
                  - {name: c, listen: 11439, headers: {Authorization: 'Bearer unknown-secret-0123456789'}}
                  - {name: d, listen: 11440, client: librechat}
                """ + KEYS, KEY_ENV)).containsExactly(
                        "services[0].listen: 80 (expected: 1024-65535)",
                        "services[0] (a): " + NO_IDENTITY,
                        "services[1].client: memsearch is not a client_id of auth.keys (expected: one of librechat, memsearch-watch)",
                        "services[2] (c): " + UNKNOWN_KEY);
    }

    @Test
    void serviceIdentityIsNotJudgedWhenItsClientOrAuthorizationWasRefused() {
        assertThat(Yaml.proxyProblems(service("    client: ''\n") + KEYS, KEY_ENV))
                .containsExactly("services[0].client: \"\" (expected: 1-64 characters of A-Z a-z 0-9 . _ -)");
        assertThat(Yaml.proxyProblems(service("    headers:\n      Authorization: \"Bearer ${LC}\"\n") + KEYS, KEY_ENV))
                .containsExactly("services[0].headers.Authorization: environment variable LC is not set");
        assertThat(Yaml.proxyProblems(service("    headers: [Authorization]\n") + KEYS, KEY_ENV))
                .containsExactly("services[0].headers: expected a map, got a list");
    }

    @Test
    void unknownInjectedKeyIsNotClaimedWhileAKeyOfAuthKeysFailedToLoad() {
        assertThat(Yaml.proxyProblems(service("    headers: {Authorization: 'Bearer " + MS_SECRET + "'}\n") + KEYS))
                .containsExactly("auth.keys[1].key_env: environment variable MS_KEY is not set");
        assertThat(Yaml.proxyProblems(service("") + KEYS)).as("no Authorization at all is still certain")
                .containsExactly("auth.keys[1].key_env: environment variable MS_KEY is not set", "services[0] (svc): " + NO_IDENTITY);
    }

    @Test
    void caFileMustExistBeReadableAndHoldACertificate(@TempDir Path dir) throws IOException, ConfigException {
        Path missing = dir.resolve("missing.pem");
        assertThat(proxyProblems(service("    ca_file: " + missing + "\n")))
                .containsExactly("services[0].ca_file: " + missing + " does not exist");
        assertThat(proxyProblems(service("    ca_file: " + dir + "\n")))
                .containsExactly("services[0].ca_file: " + dir + " is not a readable file");
        Path junk = Files.writeString(dir.resolve("junk.pem"), "not a certificate");
        assertThat(proxyProblems(service("    ca_file: " + junk + "\n"))).singleElement().asString()
                .startsWith("services[0].ca_file: " + junk + " is not a PEM certificate file");
        Path ca = Files.writeString(dir.resolve("ca.pem"), TestCertificates.PEM);
        assertThat(proxy(service("    ca_file: " + ca + "\n")).services().get(0).caFile()).isEqualTo(ca);
    }

    @Test
    void relativeCaFileIsResolvedAgainstTheConfigFileDirectory(@TempDir Path dir) throws IOException, ConfigException {
        Files.writeString(dir.resolve("ca.pem"), TestCertificates.PEM);
        Path file = Files.writeString(dir.resolve("oqp.yaml"), service("    ca_file: ca.pem\n"));
        assertThat(ConfigLoader.load(file, Target.SIDECAR, Yaml.NO_ENV).services().get(0).caFile())
                .isEqualTo(dir.resolve("ca.pem").toAbsolutePath());
    }

    @Test
    void unknownServiceKeyListsTheAllowedOnes() {
        assertThat(proxyProblems(service("    lisen: 1\n"))).containsExactly("services[0].lisen: unknown key (expected one of: "
                + "name, listen, bind, allow_public, upstream, timeout, connect_timeout, max_body, headers, client, ca_file, "
                + "early_headers)");
    }

    @Test
    void servicesMustBeAListOfMaps() {
        assertThat(proxyProblems("services: {name: a}\n")).containsExactly("services: expected a list, got a map");
        assertThat(proxyProblems("services: [a]\n")).containsExactly("services[0]: expected a map, got a string");
    }
}
