package dev.oqp.queue.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * A reverse proxy on loopback that behaves like Cloudflare or nginx in front of the queue proxy: it gives up with
 * 504 when no response headers arrive within its header timeout, and cuts a response whose body stays silent
 * longer than its read timeout. Everything else is relayed as it comes, chunk by chunk.
 */
final class HeaderTimeoutRelay implements AutoCloseable {
    private static final Set<String> NOT_RELAYED = Set.of("host", "connection", "content-length", "transfer-encoding",
            "upgrade", "expect", "keep-alive");

    private final URI target;
    private final Duration headerTimeout;
    private final Duration readTimeout;
    private final HttpServer server;
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor();
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    /** Requests given up with 504 for want of response headers. */
    final AtomicInteger headerTimeouts = new AtomicInteger();
    /** Responses cut for a silent body. */
    final AtomicInteger readTimeouts = new AtomicInteger();

    HeaderTimeoutRelay(URI target, Duration headerTimeout, Duration readTimeout) throws IOException {
        this.target = target;
        this.headerTimeout = headerTimeout;
        this.readTimeout = readTimeout;
        this.server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(threads);
        server.createContext("/", this::relay);
        server.start();
    }

    URI base() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    private void relay(HttpExchange exchange) throws IOException {
        try (exchange) {
            byte[] body = exchange.getRequestBody().readAllBytes();
            HttpRequest.Builder b = HttpRequest.newBuilder(target.resolve(exchange.getRequestURI().toString()))
                    .method(exchange.getRequestMethod(), HttpRequest.BodyPublishers.ofByteArray(body));
            exchange.getRequestHeaders().forEach((name, values) -> {
                if (!NOT_RELAYED.contains(name.toLowerCase(Locale.ROOT))) {
                    values.forEach(v -> b.header(name, v));
                }
            });
            CompletableFuture<HttpResponse<InputStream>> pending = client.sendAsync(b.build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            HttpResponse<InputStream> response;
            try {
                response = pending.get(headerTimeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                pending.cancel(true);
                headerTimeouts.incrementAndGet();
                byte[] page = "relay: no response headers in time\n".getBytes(StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(504, page.length);
                exchange.getResponseBody().write(page);
                return;
            } catch (Exception e) {
                exchange.sendResponseHeaders(502, -1);
                return;
            }
            response.headers().map().forEach((name, values) -> {
                if (!NOT_RELAYED.contains(name.toLowerCase(Locale.ROOT)) && !name.startsWith(":")) {
                    exchange.getResponseHeaders().put(name, List.copyOf(values));
                }
            });
            exchange.sendResponseHeaders(response.statusCode(), 0);
            copy(response.body(), exchange.getResponseBody());
        }
    }

    /** Relays the body as it comes; a body silent longer than the read timeout is cut (the client sees it broken). */
    private void copy(InputStream in, OutputStream out) throws IOException {
        AtomicLong lastRead = new AtomicLong(System.nanoTime());
        ScheduledFuture<?> check = watchdog.scheduleAtFixedRate(() -> {
            if (System.nanoTime() - lastRead.get() > readTimeout.toNanos()) {
                readTimeouts.incrementAndGet();
                try {
                    in.close();
                } catch (IOException ignored) {
                    // closing is all that is wanted
                }
            }
        }, 100, 100, TimeUnit.MILLISECONDS);
        try (in) {
            byte[] buffer = new byte[8192];
            for (int n; (n = in.read(buffer)) >= 0; ) {
                lastRead.set(System.nanoTime());
                out.write(buffer, 0, n);
                out.flush();
            }
        } finally {
            check.cancel(false);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
        watchdog.shutdownNow();
    }
}
