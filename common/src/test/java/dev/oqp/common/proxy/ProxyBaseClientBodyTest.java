package dev.oqp.common.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.oqp.common.server.Servers;
import dev.oqp.common.testing.FakeOllama;
import dev.oqp.common.testing.LogCapture;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A streamed request body that breaks: the client that still waits gets 400 (a cut or malformed body), the one that
 * left gets nothing, the {@link Exchange} records what was sent, and no log line carries a stack trace or the query.
 */
class ProxyBaseClientBodyTest {
    private static final String SECRET_QUERY = "token=s3cr3t";

    private final CompletableFuture<Exchange> completed = new CompletableFuture<>();
    private FakeOllama ollama;
    private Server server;
    private int port;

    @BeforeEach
    void start() throws Exception {
        ollama = FakeOllama.builder().installed("llama3:latest").start();
        Upstream upstream = new Upstream("fake", ollama.baseUri(), Duration.ofSeconds(5));
        ProxyBase proxy = new ProxyBase(new ClientSettings(Duration.ofSeconds(5), 64, 64, false, null)) {
            @Override
            protected Upstream chooseUpstream(Request clientToProxyRequest) {
                return upstream;
            }

            @Override
            protected void onExchangeComplete(Request clientToProxyRequest, Exchange exchange) {
                completed.complete(exchange);
            }
        };
        server = Servers.newServer("test", Duration.ofSeconds(1));
        ServerConnector connector = Servers.addConnector(server, "test", "127.0.0.1", 0);
        server.setHandler(proxy);
        server.start();
        port = connector.getLocalPort();
    }

    @AfterEach
    void stop() throws Exception {
        server.stop();
        ollama.stop();
    }

    @Test
    void bodyCutShortWhileTheClientWaitsIs400AndRecordedAs400() throws Exception {
        try (LogCapture logs = LogCapture.start(); Socket socket = connect()) {
            send(socket, "POST /api/generate?" + SECRET_QUERY + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n"
                    + "Content-Type: application/json\r\n\r\n{\"model\":\"llama3\"");
            socket.shutdownOutput();

            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

            assertThat(response).startsWith("HTTP/1.1 400 ").containsIgnoringCase("\r\nConnection: close\r\n")
                    .endsWith("{\"error\":\"request body incomplete or malformed\"}");
            Exchange exchange = completed.get(5, TimeUnit.SECONDS);
            assertThat(exchange.status()).isEqualTo(400);
            assertThat(exchange.outcome()).isEqualTo(Exchange.Outcome.CLIENT_BODY_INVALID);
            assertQuiet(logs);
        }
    }

    @Test
    void malformedChunkedBodyIs400AndRecordedAs400() throws Exception {
        try (LogCapture logs = LogCapture.start(); Socket socket = connect()) {
            send(socket, "POST /v1/embeddings?" + SECRET_QUERY + " HTTP/1.1\r\nHost: localhost\r\n"
                    + "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
                    + "5\r\n{\"mod\r\nzz\r\n");

            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

            assertThat(response).startsWith("HTTP/1.1 400 ").containsIgnoringCase("\r\nConnection: close\r\n")
                    .contains("\"message\":\"request body incomplete or malformed\"")
                    .contains("\"type\":\"invalid_request_error\"");
            Exchange exchange = completed.get(5, TimeUnit.SECONDS);
            assertThat(exchange.status()).isEqualTo(400);
            assertQuiet(logs);
        }
    }

    @Test
    void clientResettingMidBodyIsRecordedAs499() throws Exception {
        try (LogCapture logs = LogCapture.start()) {
            Socket socket = connect();
            send(socket, "POST /api/generate?" + SECRET_QUERY + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n"
                    + "Content-Type: application/json\r\n\r\n{\"model\":\"llama3\"");
            // The proxy must have taken the request and be streaming its body when the reset comes.
            Thread.sleep(200);
            socket.setSoLinger(true, 0);
            socket.close();

            Exchange exchange = completed.get(5, TimeUnit.SECONDS);
            assertThat(exchange.status()).isEqualTo(Exchange.CLIENT_CLOSED_REQUEST);
            assertThat(exchange.clientGone()).isTrue();
            assertQuiet(logs);
        }
        assertThat(ollama.requests()).as("the upstream never got a whole request").isEmpty();
    }

    private Socket connect() throws Exception {
        Socket socket = new Socket(InetAddress.getLoopbackAddress(), port);
        socket.setSoTimeout(10_000);
        return socket;
    }

    private static void send(Socket socket, String bytes) throws Exception {
        OutputStream out = socket.getOutputStream();
        out.write(bytes.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /**
     * No Jetty error page logged, no stack trace and never the query string, at any level, from the proxy (the fake
     * upstream, whose request is cut too, logs its own).
     */
    private void assertQuiet(LogCapture logs) {
        String fake = "127.0.0.1:" + ollama.port() + "/";
        assertThat(logs.lines()).filteredOn(line -> !line.contains(fake))
                .noneMatch(line -> line.contains(SECRET_QUERY))
                .noneMatch(line -> line.contains("writeError"))
                .noneMatch(line -> line.contains("\tat ") || line.contains("\\tat "));
    }
}
