package dev.oqp.common.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import dev.oqp.common.server.Servers;
import dev.oqp.common.testing.FakeOllama;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** A {@link ResponseTap}'s {@link ResponseRewriter}: a collected answer replaced, or past its limit passed through or refused. */
class ProxyBaseRewriteTest {
    private static final String GENERATE = "{\"model\":\"llama3\",\"prompt\":\"hi\",\"stream\":false}";

    private static HttpResponse<String> through(FakeOllama ollama, long maxBytes, boolean passThrough) throws Exception {
        Upstream upstream = new Upstream("fake", ollama.baseUri(), Duration.ofSeconds(5));
        ProxyBase proxy = new ProxyBase(new ClientSettings(Duration.ofSeconds(5), 64, 64, false, null)) {
            @Override
            protected Upstream chooseUpstream(Request clientToProxyRequest) {
                return upstream;
            }

            @Override
            protected ResponseTap tap(Request clientToProxyRequest) {
                return new ResponseTap() {
                    @Override
                    public ResponseRewriter rewriter(Response serverToProxyResponse) {
                        return new ResponseRewriter() {
                            @Override
                            public long maxBytes() {
                                return maxBytes;
                            }

                            @Override
                            public boolean passThroughWhenLarger() {
                                return passThrough;
                            }

                            @Override
                            public byte[] rewrite(byte[] serverToProxyBody) {
                                return ("rewritten " + serverToProxyBody.length).getBytes(StandardCharsets.UTF_8);
                            }
                        };
                    }
                };
            }
        };
        Server server = Servers.newServer("test", Duration.ofSeconds(1));
        ServerConnector connector = Servers.addConnector(server, "test", "127.0.0.1", 0);
        server.setHandler(proxy);
        server.start();
        try {
            return HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + connector.getLocalPort() + "/api/generate"))
                    .POST(HttpRequest.BodyPublishers.ofString(GENERATE)).build(), HttpResponse.BodyHandlers.ofString());
        } finally {
            server.stop();
        }
    }

    @Test
    void aCollectedAnswerIsReplacedWithItsOwnLength() throws Exception {
        try (FakeOllama ollama = FakeOllama.builder().installed("llama3:latest").start()) {
            HttpResponse<String> response = through(ollama, 1 << 20, false);
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(response.body()).startsWith("rewritten ");
            assertThat(response.headers().firstValue("Content-Length")).hasValue(String.valueOf(response.body().length()));
        }
    }

    @ParameterizedTest
    @CsvSource({"true, 200", "false, 502"})
    void anAnswerPastTheLimitIsPassedThroughOrRefused(boolean passThrough, int status) throws Exception {
        try (FakeOllama ollama = FakeOllama.builder().installed("llama3:latest").start()) {
            HttpClient plain = HttpClient.newHttpClient();
            String direct = plain.send(HttpRequest.newBuilder(ollama.baseUri().resolve("/api/generate"))
                    .POST(HttpRequest.BodyPublishers.ofString(GENERATE)).build(), HttpResponse.BodyHandlers.ofString()).body();

            HttpResponse<String> response = through(ollama, 10, passThrough);

            assertThat(response.statusCode()).isEqualTo(status);
            if (passThrough) {
                assertThat(response.body()).as("unchanged, nothing lost").hasSize(direct.length()).startsWith("{\"model\":\"llama3\"");
            } else {
                assertThat(response.body()).contains("error");
            }
        }
    }
}
