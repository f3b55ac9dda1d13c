package dev.oqp.common.server;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;

import io.prometheus.metrics.config.EscapingScheme;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/** Serves a registry in the Prometheus text format on {@code GET /metrics}; anything else is 404. */
public final class MetricsHandler extends Handler.Abstract.NonBlocking {
    private final PrometheusRegistry registry;
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    public MetricsHandler(PrometheusRegistry registry) {
        this.registry = registry;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws IOException {
        if (!"/metrics".equals(request.getHttpURI().getPath()) || !"GET".equals(request.getMethod())) {
            response.setStatus(404);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
            response.write(true, ByteBuffer.wrap("404 page not found".getBytes()), callback);
            return true;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(4096);
        writer.write(out, registry.scrape(), EscapingScheme.UNDERSCORE_ESCAPING);
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, writer.getContentType());
        response.write(true, ByteBuffer.wrap(out.toByteArray()), callback);
        return true;
    }
}
