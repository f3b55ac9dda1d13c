package dev.oqp.common.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.time.Duration;

import org.eclipse.jetty.http.HttpURI;
import org.junit.jupiter.api.Test;

class UpstreamTest {
    private static Upstream upstream(String base) {
        return new Upstream("u", URI.create(base), Duration.ofSeconds(1));
    }

    @Test
    void keepsTheClientsRawPathAndQuery() {
        HttpURI resolved = upstream("http://ollama:11434").resolve(HttpURI.from("/api/tags?x=1%202"));
        assertThat(resolved.asString()).isEqualTo("http://ollama:11434/api/tags?x=1%202");
    }

    @Test
    void prefixesTheBasePath() {
        assertThat(upstream("https://gw.example/ollama/").resolve(HttpURI.from("/api/chat")).asString())
                .isEqualTo("https://gw.example/ollama/api/chat");
    }

    @Test
    void authorityIsHostAndExplicitPort() {
        assertThat(upstream("http://127.0.0.1:11434").authority()).isEqualTo("127.0.0.1:11434");
        assertThat(upstream("https://ollama.example").authority()).isEqualTo("ollama.example");
    }

    @Test
    void onlyHttpAndHttpsWithAPositiveIdleTimeout() {
        assertThatThrownBy(() -> upstream("ftp://x")).hasMessageContaining("expected: http or https");
        assertThatThrownBy(() -> new Upstream("u", URI.create("http://x"), Duration.ZERO))
                .hasMessageContaining("expected: > 0");
    }
}
