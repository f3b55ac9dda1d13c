package dev.oqp.queue.server;

import java.net.URI;
import java.util.Locale;
import java.util.function.Supplier;

import dev.oqp.common.config.InetLiterals;
import dev.oqp.common.proxy.RequestTargets;
import dev.oqp.queue.admin.AdminEndpoints;
import dev.oqp.queue.admin.Reply;
import dev.oqp.queue.auth.Authenticator;
import dev.oqp.queue.auth.Client;
import dev.oqp.queue.auth.ClientAddress;
import dev.oqp.queue.auth.HeaderClients;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * Pipeline steps 1 to 4 for one listen port, then the hand-off by route: request id, own endpoints,
 * authentication (401, 429), classification and scope (404, 405, 403); an inference request goes on to the
 * {@link InferenceIntake}, a metadata or management request to the {@link DirectRoute}, an own endpoint to
 * {@link AdminEndpoints}. Each request becomes a {@link Call} here, on the settings in force now.
 *
 * <p>On an injection port ({@code services[]}) the service's headers replace the client's first; a request whose
 * headers then carry no known key is the service's {@code client}. With authentication off, a request on a port
 * without a {@code client} is the client its {@code X-Client-ID} names ({@link HeaderClients}), else anonymous.
 */
final class Gate extends Handler.Abstract.NonBlocking {
    /** The answer to a model management route while {@code proxy.allow_model_management} is false. */
    static final String MANAGEMENT_DISABLED =
            "model management endpoints are disabled; set allow_model_management: true in config to enable";
    private final Port port;
    private final Supplier<Settings> settings;
    private final Ledger ledger;
    private final Authenticator authenticator;
    private final AdminEndpoints admin;
    private final InferenceIntake intake;
    private final DirectRoute direct;
    private final HeaderClients headerClients;

    Gate(Port port, Supplier<Settings> settings, Ledger ledger, Authenticator authenticator,
         AdminEndpoints admin, InferenceIntake intake, DirectRoute direct, HeaderClients headerClients) {
        this.port = port;
        this.settings = settings;
        this.ledger = ledger;
        this.authenticator = authenticator;
        this.admin = admin;
        this.intake = intake;
        this.direct = direct;
        this.headerClients = headerClients;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        Settings current = settings.get();
        Request effective = port.main() ? request : ServiceRequest.wrap(request, port.service());
        Call call = new Call(RequestIds.of(request), port, current,
                effective, response, callback, ledger);
        response.getHeaders().put(Headers.X_REQUEST_ID, call.requestId);
        call.clientAddress = ClientAddress.resolve(Request.getRemoteAddr(request),
                request.getHeaders().getValuesList(Headers.X_FORWARDED_FOR),
                current.config().proxy().trustedProxies());
        String path = Request.getPathInContext(request);
        if (path == null || !path.startsWith("/")) {
            // CONNECT host:port, OPTIONS *: nothing here is addressed that way.
            call.answer(400, "request target must be a path", "bad_target");
            return true;
        }
        if (!RequestTargets.canonicalPath(request.getHttpURI().getPath())) {
            // Classified by the decoded path, forwarded as written: the two must name the same thing (no "/./",
            // ";parameters" or "%74ags" for the classification and Ollama to read differently).
            call.answer(400, RequestTargets.NOT_CANONICAL, "bad_path");
            return true;
        }
        Route route = Route.classify(request.getMethod(), path);
        if (route.kind() != Route.Kind.OWN && !RequestTargets.wellFormedQuery(request.getHttpURI().getQuery())) {
            // Not forwardable (the upstream request cannot be built from it): refused before it can reach a host and
            // count as that host's failure. The proxy's own endpoints read their query themselves, if at all.
            call.answer(400, RequestTargets.MALFORMED_QUERY, "bad_query");
            return true;
        }
        if (route.kind() == Route.Kind.OWN && !port.main()) {
            // Injection ports answer /health (before this handler) and proxy everything else; Ollama has no such
            // paths, so they are not found, as they would be there.
            route = Route.notFound();
        }
        call.route = route;
        if (!current.keys().enabled()) {
            call.client = openClient(current, call.request);
        }
        if (route.kind() == Route.Kind.OWN
                && (route.scope() == null || AdminEndpoints.isPublic(path, current.config().admin()))) {
            reply(call, admin.open(path, current.cache()));
            return true;
        }
        if (!current.keys().enabled() && port.loopback() && !loopbackHost(request)) {
            // Without keys, a loopback listener is protected only by being loopback: a web page must not reach it
            // through DNS rebinding (Ollama refuses foreign Host values on loopback for the same reason, and the
            // proxy rewrites Host for it).
            call.answer(403, "host not allowed", "host_not_allowed");
            return true;
        }
        if (route.kind() == Route.Kind.OWN && "POST".equals(request.getMethod()) && crossSite(request)) {
            // A web page must not drive the queue's controls through the operator's browser (with auth off nothing
            // else would stop it; with auth on a browser holds no bearer key, but refuse all the same).
            call.answer(403, "cross-site request refused", "cross_site");
            return true;
        }
        if (route.kind() == Route.Kind.MANAGEMENT && !current.config().proxy().allowModelManagement()) {
            // Off for everyone, whatever the key (the Python tool's switch and message); nothing reaches a host.
            call.answer(403, MANAGEMENT_DISABLED, "model_management_disabled");
            return true;
        }
        if (!authenticate(call, path)) {
            return true;
        }
        switch (route.kind()) {
            case NOT_FOUND -> call.answer(404, "404 page not found", "not_found");
            case METHOD_NOT_ALLOWED -> call.answer(405, "405 method not allowed", "method_not_allowed");
            default -> {
                if (!call.client.scope().allows(route.scope())) {
                    call.answer(403, "client " + call.client.clientId() + " has scope " + call.client.scope().yamlName()
                            + "; " + path + " needs " + route.scope().yamlName(), "scope");
                } else if (route.kind() == Route.Kind.OWN) {
                    own(call, path);
                } else if (route.kind() == Route.Kind.INFERENCE) {
                    intake.admit(call);
                } else {
                    direct.forward(call);
                }
            }
        }
        return true;
    }

    /**
     * Who a request is with authentication off: an injection port's client, else the client its
     * {@code X-Client-ID} names ({@link HeaderClients}), else {@link Client#ANONYMOUS}.
     */
    private Client openClient(Settings current, Request request) {
        Client serviceClient = current.serviceClient(port);
        if (serviceClient != null) {
            return serviceClient;
        }
        Client named = current.headerClient(headerClients, request.getHeaders().get(Headers.X_CLIENT_ID));
        return named != null ? named : Client.ANONYMOUS;
    }

    /** An own endpoint whose scope was checked; a queue control reads its {@code tier} parameter. */
    private void own(Call call, String path) {
        String tier = null;
        if (path.startsWith("/queue/") && "POST".equals(call.request.getMethod())) {
            try {
                tier = Request.extractQueryParameters(call.request).getValue("tier");
            } catch (RuntimeException e) {
                // A malformed percent-escape: the query cannot be read.
                call.answer(400, RequestTargets.MALFORMED_QUERY, "bad_query");
                return;
            }
        }
        reply(call, admin.authorized(path, call.client, tier, call.settings.config(),
                call.settings.configuredClients(headerClients), call.settings.cache()));
    }

    /** Step 3: true when the request has its client; else it was answered (401, 429). */
    private boolean authenticate(Call call, String path) {
        Settings current = call.settings;
        boolean browser = call.route.kind() == Route.Kind.OWN && current.config().admin().dashboard()
                && ("/dashboard".equals(path) || "/queue/status".equals(path) || "/queue/summary".equals(path));
        // Anthropic clients send their key as x-api-key; elsewhere it is not a credential (and never sent upstream).
        String apiKey = Route.TAKES_API_KEY.equals(path) ? call.request.getHeaders().get(Headers.X_API_KEY) : null;
        Authenticator.Attempt attempt = new Authenticator.Attempt(call.requestId, call.clientAddress,
                call.request.getHeaders().get(HttpHeader.AUTHORIZATION), apiKey, browser);
        Authenticator.Result result = authenticator.authenticate(current.keys(), current.limiter(),
                current.keys().enabled() ? current.serviceClient(port) : call.client, attempt, System.nanoTime());
        if (result instanceof Authenticator.Admitted admitted) {
            call.client = admitted.client();
            return true;
        }
        Authenticator.Refused refused = (Authenticator.Refused) result;
        for (String challenge : refused.challenges()) {
            call.response.getHeaders().add(HttpHeader.WWW_AUTHENTICATE, challenge);
        }
        if (refused.retryAfterSeconds() >= 0) {
            call.answer(refused.status(), refused.message(), refused.error(), refused.retryAfterSeconds());
        } else {
            call.answer(refused.status(), refused.message(), refused.error());
        }
        return false;
    }

    static void reply(Call call, Reply reply) {
        if (reply instanceof Reply.Deferred deferred) {
            DeferredReply.await(call, deferred.reply(), later -> reply(call, later));
        } else if (reply instanceof Reply.Content content) {
            content.headers().forEach(call.response.getHeaders()::put);
            call.write(content.status(), content.contentType(), content.body());
        } else {
            Reply.Error error = (Reply.Error) reply;
            call.answer(error.status(), error.message(), error.error());
        }
    }

    /**
     * True for a request a browser sent on behalf of another site: {@code Sec-Fetch-Site: cross-site}, or an
     * {@code Origin} whose host and port are not the ones the request was sent to.
     */
    static boolean crossSite(Request request) {
        String site = request.getHeaders().get("Sec-Fetch-Site");
        if (site != null && (site.equalsIgnoreCase("cross-site") || site.equalsIgnoreCase("same-site"))) {
            return true;
        }
        String origin = request.getHeaders().get(HttpHeader.ORIGIN);
        if (origin == null) {
            return false;
        }
        String host = request.getHeaders().get(HttpHeader.HOST);
        try {
            String authority = URI.create(origin.strip()).getRawAuthority();
            return authority == null || host == null || !authority.equalsIgnoreCase(host.strip());
        } catch (IllegalArgumentException e) {
            return true;
        }
    }

    /** True when the request's {@code Host} names a loopback address, {@code localhost} or a {@code .localhost} name. */
    static boolean loopbackHost(Request request) {
        String host = Request.getServerName(request);
        if (host == null || host.isEmpty()) {
            return true;
        }
        return host.toLowerCase(Locale.ROOT).endsWith(".localhost") || InetLiterals.isLoopback(host);
    }
}
