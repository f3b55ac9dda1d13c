package dev.oqp.common.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HostsTest {

    @ParameterizedTest
    @CsvSource({
        "ollama, http://ollama:11434",
        "ollama:1234, http://ollama:1234",
        "http://ollama, http://ollama:80",
        "HTTPS://ollama/, https://ollama:443",
        "'', http://127.0.0.1:11434",
        "0.0.0.0:11434, http://127.0.0.1:11434",
        "[::]:8080, http://[::1]:8080",
        "::1, http://[::1]:11434",
    })
    void ollamaHostIsReadTheWayOllamaReadsIt(String raw, String expected) {
        assertThat(Hosts.parseOllamaHost(raw)).isEqualTo(URI.create(expected));
    }

    @ParameterizedTest
    @CsvSource({"ftp://ollama", "ollama:0", "ollama:65536", "ollama:x", "[::1", "[::1]x"})
    void anUnreadableOllamaHostIsNull(String raw) {
        assertThat(Hosts.parseOllamaHost(raw)).isNull();
    }

    @Test
    void anUpstreamUrlIsNormalisedAndAPathIsNeverShown() throws IOException {
        Node.Context ctx = new Node.Context(Map.of());
        assertThat(Hosts.httpUrl(node(ctx, "HTTP://Ollama:11434/"))).isEqualTo(URI.create("http://Ollama:11434"));
        assertThat(Hosts.httpUrl(node(ctx, "http://ollama/v1?token=s3cret"))).isNull();
        assertThat(Hosts.httpUrl(node(ctx, "ollama:11434"))).isNull();
        assertThat(ctx.problems).containsExactly(
                "u: http://ollama has a query or fragment (expected: scheme://host[:port])",
                "u: no scheme: write http://ollama:11434 (expected: an http or https URL such as http://ollama:11434)");
    }

    private static Node node(Node.Context ctx, String text) throws IOException {
        return new Node(ctx, YamlTree.read("u: '" + text + "'").get("u"), "u");
    }
}
