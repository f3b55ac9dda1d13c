package dev.oqp.common.proxy;

import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.channels.UnresolvedAddressException;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLException;

import org.eclipse.jetty.http.HttpException;

/**
 * The one error mapping of the proxies: which {@link Exchange.Outcome} a failure is, the status a client gets for
 * it while its response has not started, and the message of the error body.
 *
 * <p>Upstream unreachable (connect refused or timed out, name not resolved, TLS refused): 502; upstream silent past
 * its idle timeout: 504; upstream broke the connection: 502; a request body over the limit: 413; a client that
 * stalled its body: 408; a body cut short of its declared length or with broken chunked framing: 400; a client that
 * left: 499 (logged, never sent). Once a response has started no status is
 * sent at all: {@link ProxyBase} ends the stream instead.
 */
public final class ProxyErrors {
    private ProxyErrors() {
    }

    /** The status for a failure before the response started: the one error mapping of the proxies. */
    public static int statusFor(Throwable failure) {
        return switch (outcomeOf(failure)) {
            case BODY_TOO_LARGE -> 413;
            case CLIENT_TIMEOUT -> 408;
            case CLIENT_BODY_INVALID -> 400;
            case CLIENT_CLOSED -> Exchange.CLIENT_CLOSED_REQUEST;
            case UPSTREAM_TIMEOUT -> 504;
            default -> 502;
        };
    }

    static Exchange.Outcome outcomeOf(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof BodyTooLargeException) {
                return Exchange.Outcome.BODY_TOO_LARGE;
            }
            if (t instanceof ClientBodyException) {
                if (hasCause(t, TimeoutException.class)) {
                    return Exchange.Outcome.CLIENT_TIMEOUT;
                }
                // Jetty's parser names a body that ended early or broke its framing with an HttpException (400);
                // whether the client still waits for the answer only a write can tell (a reset reads the same).
                return isHttpException(t) ? Exchange.Outcome.CLIENT_BODY_INVALID : Exchange.Outcome.CLIENT_CLOSED;
            }
            if (t instanceof TimeoutException) {
                return Exchange.Outcome.UPSTREAM_TIMEOUT;
            }
            if (t instanceof ConnectException || t instanceof UnresolvedAddressException
                    || t instanceof UnknownHostException || t instanceof SocketTimeoutException
                    || t instanceof SSLException) {
                return Exchange.Outcome.UPSTREAM_CONNECT;
            }
        }
        return Exchange.Outcome.UPSTREAM_BROKEN;
    }

    static String messageFor(Exchange.Outcome outcome, Throwable failure) {
        return switch (outcome) {
            case BODY_TOO_LARGE -> "request body too large (limit "
                    + ((BodyTooLargeException) rootOf(failure, BodyTooLargeException.class)).limit() + " bytes)";
            case UPSTREAM_TIMEOUT -> "upstream timed out";
            case CLIENT_TIMEOUT -> "request body not received in time";
            case CLIENT_BODY_INVALID -> "request body incomplete or malformed";
            case CLIENT_CLOSED -> "client closed the connection";
            case UPSTREAM_CONNECT -> "upstream unreachable";
            default -> "upstream connection failed";
        };
    }

    /** True when {@code failure} or one of its causes is a {@code type}. */
    public static boolean hasCause(Throwable failure, Class<? extends Throwable> type) {
        return rootOf(failure, type) != null;
    }

    private static boolean isHttpException(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof HttpException) {
                return true;
            }
        }
        return false;
    }

    /** The first of {@code failure} and its causes that is a {@code type}, or null. */
    private static Throwable rootOf(Throwable failure, Class<? extends Throwable> type) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return t;
            }
        }
        return null;
    }
}
