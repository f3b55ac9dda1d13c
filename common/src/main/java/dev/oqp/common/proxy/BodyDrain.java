package dev.oqp.common.proxy;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.Callback;

/**
 * Reads and drops the body of a request that is answered without it (a refusal), before the answer, as nginx's
 * lingering close does: answering and closing while the client's bytes still arrive makes the kernel reset the
 * connection, and the client may lose the answer with it. Nothing is held (each chunk is released as read); a
 * body is drained only when it is declared, at most {@code limit} bytes, and not behind {@code Expect:
 * 100-continue} (such a client sends nothing until told to, so it is answered at once); and the answer goes out
 * after {@link #DEADLINE_MILLIS} at the latest, read or not.
 */
public final class BodyDrain {
    /** A client slower than this to send what it declared is answered anyway. */
    public static final long DEADLINE_MILLIS = 3000;

    private BodyDrain() {
    }

    /** Runs {@code answer} once, after {@code request}'s body was drained or at once (see the class comment). */
    public static void thenAnswer(Request request, long limit, Runnable answer) {
        long declared = request.getLength();
        if (declared <= 0 || declared > limit
                || request.getHeaders().contains(HttpHeader.EXPECT, HttpHeaderValue.CONTINUE.asString())) {
            answer.run();
            return;
        }
        AtomicBoolean once = new AtomicBoolean();
        Runnable first = () -> {
            if (once.compareAndSet(false, true)) {
                answer.run();
            }
        };
        request.getComponents().getScheduler().schedule(first, DEADLINE_MILLIS, TimeUnit.MILLISECONDS);
        Content.Source.consumeAll(request, Callback.from(first, failure -> first.run()));
    }
}
