package dev.oqp.common.server;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.function.Function;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * Answers {@code GET /health} and {@code HEAD /health} with 200 itself, never touching the upstream (liveness of
 * this process only); passes everything else to the wrapped handler. The sidecar's answer is {@code ok} as text;
 * the queue proxy's is {@code {"status":"ok"}} as JSON (the Python ollama-queue-proxy's body, which its users'
 * probes parse) with an {@code X-Request-ID}, like every other answer of the queue proxy.
 */
public final class HealthHandler extends Handler.Wrapper {
    private static final ByteBuffer OK = ByteBuffer.wrap("ok".getBytes(StandardCharsets.US_ASCII)).asReadOnlyBuffer();
    private static final ByteBuffer OK_JSON = ByteBuffer.wrap("{\"status\":\"ok\"}\n".getBytes(StandardCharsets.US_ASCII))
            .asReadOnlyBuffer();

    /** The request id of a request (the client's when sane, else a new one), or null: text, no id. */
    private final Function<Request, String> requestIds;

    /** Answers {@code ok} as text. */
    public HealthHandler(Handler next) {
        this(next, null);
    }

    /** Answers {@code {"status":"ok"}} as JSON, with {@code X-Request-ID: requestIds.apply(request)}. */
    public HealthHandler(Handler next, Function<Request, String> requestIds) {
        super(next);
        this.requestIds = requestIds;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        if ("/health".equals(request.getHttpURI().getPath())
                && ("GET".equals(request.getMethod()) || "HEAD".equals(request.getMethod()))) {
            response.setStatus(200);
            ByteBuffer body;
            if (requestIds == null) {
                response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
                body = OK;
            } else {
                response.getHeaders().put("X-Request-ID", requestIds.apply(request));
                response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
                body = OK_JSON;
            }
            response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
            if ("HEAD".equals(request.getMethod())) {
                response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.remaining());
                response.write(true, null, callback);
            } else {
                response.write(true, body.slice(), callback);
            }
            return true;
        }
        return super.handle(request, response, callback);
    }
}
