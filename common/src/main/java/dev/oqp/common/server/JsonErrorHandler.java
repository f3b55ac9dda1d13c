package dev.oqp.common.server;

import java.nio.ByteBuffer;
import java.util.Locale;
import java.util.function.Consumer;

import dev.oqp.common.proxy.ErrorResponses;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Errors Jetty itself answers (a malformed request, headers too large, a request arriving on an open
 * connection while the server drains) in the JSON shape every other error of the proxies has, Ollama's or
 * OpenAI's by path, instead of Jetty's HTML page. The message is the status's reason phrase, or Jetty's
 * message for a client error (never an exception's text, which may name internals). A 503 carries
 * {@code Retry-After}.
 *
 * <p>A request Jetty refused as malformed (a duplicated or bad {@code Host}, an ambiguous URI, headers too large)
 * is counted by reason ({@link BadRequests#REASONS}) and logged at debug with bounded, escaped excerpts of what the
 * client sent: any client can send them, so they must not fill the log at warn (see {@code ClientTextFilter}).
 */
public final class JsonErrorHandler extends ErrorHandler {
    /** Seconds a client is told to wait after a 503 from a draining server: about a restart. */
    static final int RETRY_AFTER_SECONDS = 5;
    private static final Logger LOG = LoggerFactory.getLogger(JsonErrorHandler.class);

    private final Consumer<String> badRequests;

    /** Counts nothing. */
    public JsonErrorHandler() {
        this(reason -> {
        });
    }

    /** Tells {@code badRequests} the reason ({@link BadRequests#REASONS}) of each request Jetty refused as malformed. */
    public JsonErrorHandler(Consumer<String> badRequests) {
        this.badRequests = badRequests;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        int status = response.getStatus() >= 400 ? response.getStatus() : 500;
        Object jettyMessage = request.getAttribute(ERROR_MESSAGE);
        if (status < 500 && request.getAttribute(ERROR_EXCEPTION) instanceof HttpException) {
            badRequest(request, status, jettyMessage);
        }
        String message = message(status, jettyMessage);
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
        if (status == HttpStatus.SERVICE_UNAVAILABLE_503) {
            response.getHeaders().put(HttpHeader.RETRY_AFTER, Integer.toString(RETRY_AFTER_SECONDS));
        }
        ErrorResponses.write(request, response, callback, status, message);
        return true;
    }

    private void badRequest(Request request, int status, Object jettyMessage) {
        String text = jettyMessage instanceof String s ? s : "";
        String reason = BadRequests.reason(status, text);
        badRequests.accept(reason);
        if (LOG.isDebugEnabled()) {
            LOG.atDebug().addKeyValue("status", status).addKeyValue("reason", reason)
                    .addKeyValue("detail", BadRequests.excerpt(text))
                    .addKeyValue("target", BadRequests.excerpt(request.getMethod() + " " + request.getHttpURI().getPath()))
                    .addKeyValue("client", Request.getRemoteAddr(request))
                    .log("malformed request refused");
        }
    }

    @Override
    public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
        fields.put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
        return ByteBuffer.wrap(ErrorResponses.body("/", status, message(status, reason)));
    }

    private static String message(int status, Object jettyMessage) {
        if (status < 500 && jettyMessage instanceof String text && !text.isBlank() && text.length() <= 200) {
            return text;
        }
        String reason = HttpStatus.getMessage(status);
        return reason == null ? "error " + status : reason.toLowerCase(Locale.ROOT);
    }
}
