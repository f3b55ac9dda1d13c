package dev.oqp.queue.server;

import java.util.Map;

import dev.oqp.common.config.ServiceConfig;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.server.Request;

/**
 * A request on a client injection port as the pipeline sees it: the service's headers put in place of the
 * client's same-named ones (names compared ignoring case), everything else the client's. The injected
 * {@code Authorization} resolves the client and an injected {@code X-Queue-Priority} is capped like any
 * other; neither is ever sent upstream.
 */
final class ServiceRequest extends Request.Wrapper {
    private final HttpFields headers;

    private ServiceRequest(Request request, HttpFields headers) {
        super(request);
        this.headers = headers;
    }

    static Request wrap(Request request, ServiceConfig service) {
        if (service.headers().isEmpty()) {
            return request;
        }
        HttpFields.Mutable headers = HttpFields.build(request.getHeaders());
        for (Map.Entry<String, String> header : service.headers().entrySet()) {
            headers.put(header.getKey(), header.getValue());
        }
        return new ServiceRequest(request, headers.asImmutable());
    }

    @Override
    public HttpFields getHeaders() {
        return headers;
    }
}
