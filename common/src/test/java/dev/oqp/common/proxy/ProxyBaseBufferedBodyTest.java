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
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.Test;

/** A subclass that has read the body itself sends its own bytes upstream, correctly framed. */
class ProxyBaseBufferedBodyTest {
    private static final String BODY_ATTRIBUTE = "test.body";

    @Test
    void bufferedBodyReplacesTheClientsBodyWithItsOwnLength() throws Exception {
        try (FakeOllama ollama = FakeOllama.builder().installed("llama3:latest").start()) {
            Upstream upstream = new Upstream("fake", ollama.baseUri(), Duration.ofSeconds(5));
            ProxyBase proxy = new ProxyBase(new ClientSettings(Duration.ofSeconds(5), 64, 64, false, null)) {
                @Override
                protected Upstream chooseUpstream(Request clientToProxyRequest) {
                    return upstream;
                }

                @Override
                protected RequestBody requestBody(Request clientToProxyRequest) {
                    return RequestBody.buffered((byte[]) clientToProxyRequest.getAttribute(BODY_ATTRIBUTE));
                }
            };
            Handler readsTheBodyFirst = new Handler.Wrapper(proxy) {
                // This test handler reads the body with a blocking call, so it must not run on a selector
                // thread (the proxy itself is non-blocking and a wrapper would inherit that).
                @Override
                public InvocationType getInvocationType() {
                    return InvocationType.BLOCKING;
                }

                @Override
                public boolean handle(Request request, Response response, Callback callback) throws Exception {
                    String original = Content.Source.asString(request, StandardCharsets.UTF_8);
                    String changed = original.substring(0, original.lastIndexOf('}')) + ",\"keep_alive\":\"5m\"}";
                    request.setAttribute(BODY_ATTRIBUTE, changed.getBytes(StandardCharsets.UTF_8));
                    return super.handle(request, response, callback);
                }
            };
            Server server = Servers.newServer("test", Duration.ofSeconds(1));
            ServerConnector connector = Servers.addConnector(server, "test", "127.0.0.1", 0);
            server.setHandler(readsTheBodyFirst);
            server.start();
            try {
                HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                                URI.create("http://127.0.0.1:" + connector.getLocalPort() + "/api/generate"))
                        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"llama3\",\"prompt\":\"hi\",\"stream\":false}"))
                        .build(), HttpResponse.BodyHandlers.ofString());

                assertThat(response.statusCode()).isEqualTo(200);
                assertThat(ollama.requests().get(0).bodyAsString())
                        .isEqualTo("{\"model\":\"llama3\",\"prompt\":\"hi\",\"stream\":false,\"keep_alive\":\"5m\"}");
                assertThat(ollama.requests().get(0).header("Content-Length"))
                        .isEqualTo(String.valueOf(ollama.requests().get(0).body().length));
            } finally {
                server.stop();
            }
        }
    }
}
