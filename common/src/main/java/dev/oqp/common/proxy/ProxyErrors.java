package dev.oqp.common.proxy;

import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.channels.UnresolvedAddressException;
import java.util.concurrent.TimeoutException;

import javax.net.ssl.SSLException;

/**
 * The one error mapping of the proxies: which {@link Exchange.Outcome} a failure is, the status a client gets for
 * it while its response has not started, and the message of the error body.
 *
 * <p>Upstream unreachable (connect refused or timed out, name not resolved, TLS refused): 502; upstream silent past
 * its idle timeout: 504; upstream broke the connection: 502; a request body over the limit: 413; a client that
 * stalled its body: 408; a client that left: 499 (logged, never sent). Once a response has started no status is
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
                return hasCause(t, TimeoutException.class) ? Exchange.Outcome.CLIENT_TIMEOUT : Exchange.Outcome.CLIENT_CLOSED;
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
            case CLIENT_CLOSED -> "client closed the connection";
            case UPSTREAM_CONNECT -> "upstream unreachable";
            default -> "upstream connection failed";
        };
    }

    /** True when {@code failure} or one of its causes is a {@code type}. */
    public static boolean hasCause(Throwable failure, Class<? extends Throwable> type) {
        return rootOf(failure, type) != null;
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
