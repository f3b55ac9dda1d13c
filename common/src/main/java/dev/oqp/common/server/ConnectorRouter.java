package dev.oqp.common.server;

import java.util.HashMap;
import java.util.Map;

import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/** Sends each request to the handler of the connector (listen port) it arrived on. */
public final class ConnectorRouter extends Handler.Sequence {
    private final Map<Connector, Handler> routes = new HashMap<>();

    /** Routes requests arriving on {@code connector} to {@code handler}. Call before the server starts. */
    public void route(Connector connector, Handler handler) {
        routes.put(connector, handler);
        addHandler(handler);
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        Handler handler = routes.get(request.getConnectionMetaData().getConnector());
        return handler != null && handler.handle(request, response, callback);
    }
}
