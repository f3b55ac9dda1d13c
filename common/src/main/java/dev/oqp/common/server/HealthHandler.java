package dev.oqp.common.server;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * Answers {@code GET /health} and {@code HEAD /health} with 200 {@code ok} itself, never touching the
 * upstream (liveness of this process only); passes everything else to the wrapped handler.
 */
public final class HealthHandler extends Handler.Wrapper {
    private static final ByteBuffer OK = ByteBuffer.wrap("ok".getBytes(StandardCharsets.US_ASCII)).asReadOnlyBuffer();

    public HealthHandler(Handler next) {
        super(next);
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        if ("/health".equals(request.getHttpURI().getPath())
                && ("GET".equals(request.getMethod()) || "HEAD".equals(request.getMethod()))) {
            response.setStatus(200);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
            response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
            response.write(true, "HEAD".equals(request.getMethod()) ? null : OK.slice(), callback);
            return true;
        }
        return super.handle(request, response, callback);
    }
}
