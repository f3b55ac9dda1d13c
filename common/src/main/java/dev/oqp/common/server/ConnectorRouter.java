package dev.oqp.common.server;

import java.util.HashMap;
import java.util.Map;

import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Invocable;

/** Sends each request to the handler of the connector (listen port) it arrived on. */
public final class ConnectorRouter extends Handler.Sequence {
    private final Map<Connector, Handler> routes = new HashMap<>();

    /** Routes requests arriving on {@code connector} to {@code handler}. Call before the server starts. */
    public void route(Connector connector, Handler handler) {
        routes.put(connector, handler);
        addHandler(handler);
    }

    /**
     * The routes are fixed before the server starts, so the router is as non-blocking as its handlers
     * (a plain {@code Sequence} reports BLOCKING, which makes Jetty hand every request to another thread).
     */
    @Override
    public InvocationType getInvocationType() {
        InvocationType type = InvocationType.NON_BLOCKING;
        for (Handler handler : routes.values()) {
            type = Invocable.combine(type, handler.getInvocationType());
        }
        return type;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        Handler handler = routes.get(request.getConnectionMetaData().getConnector());
        return handler != null && handler.handle(request, response, callback);
    }
}
