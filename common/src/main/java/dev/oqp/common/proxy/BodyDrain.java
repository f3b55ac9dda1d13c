package dev.oqp.common.proxy;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.Callback;

/**
 * A lingering close, as nginx does it, for a request answered without its body (a refusal): the answer is
 * written at once, then what the client still sends of its declared body is read and dropped (nothing held,
 * each chunk released as read) for at most {@link #DEADLINE_MILLIS}, and only then is the exchange completed.
 * Closing while the client's bytes still arrive makes the kernel reset the connection, and the client may lose
 * the answer with it. A request without a declared body, or behind {@code Expect: 100-continue} (that client
 * sends nothing until told to), completes as soon as the answer is written.
 */
public final class BodyDrain {
    /** The longest a refused client's remaining body is read for after its answer. */
    public static final long DEADLINE_MILLIS = 3000;

    private BodyDrain() {
    }

    /**
     * The callback to write the answer to {@code request} with: once the answer is written, it lingers (see the
     * class comment), then completes {@code done}; a failed write fails {@code done} at once.
     */
    public static Callback lingering(Request request, Callback done) {
        if (request.getLength() == 0
                || request.getHeaders().contains(HttpHeader.EXPECT, HttpHeaderValue.CONTINUE.asString())) {
            return done;
        }
        return Callback.from(done.getInvocationType(), () -> linger(request, done), done::failed);
    }

    private static void linger(Request request, Callback done) {
        AtomicBoolean once = new AtomicBoolean();
        Runnable finish = () -> {
            if (once.compareAndSet(false, true)) {
                done.succeeded();
            }
        };
        request.getComponents().getScheduler().schedule(finish, DEADLINE_MILLIS, TimeUnit.MILLISECONDS);
        Content.Source.consumeAll(request, Callback.from(finish, failure -> finish.run()));
    }
}
