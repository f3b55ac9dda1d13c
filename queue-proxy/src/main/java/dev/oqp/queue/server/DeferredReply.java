package dev.oqp.queue.server;

import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

import dev.oqp.common.proxy.ClientCloseWatcher;
import dev.oqp.queue.admin.Reply;
import org.eclipse.jetty.http.HttpHeader;

/**
 * An own endpoint's answer known later ({@link Reply.Deferred}: a drain answers once the tier is empty). It is
 * written when known, unless the client leaves first: then the future completes with {@link ClientLeft}, which
 * tells whoever completes it to stop (a drain stops looking), and the request is recorded as 499 with nothing
 * written. The client leaving shows as the request failing or, while nothing is read or written, as the
 * connection closing ({@link ClientCloseWatcher}).
 */
final class DeferredReply {

    /** How a deferred answer ends when its client went away first. */
    static final class ClientLeft extends RuntimeException {
        private static final long serialVersionUID = 1L;

        ClientLeft(Throwable how) {
            super("the client left before the answer", how, false, false);
        }
    }

    private DeferredReply() {
    }

    /** Writes {@code later}'s answer with {@code write} once known; a failure without one is answered 500. */
    static void await(Call call, CompletableFuture<Reply> later, Consumer<Reply> write) {
        Consumer<Throwable> gone = how -> later.completeExceptionally(new ClientLeft(how));
        ClientCloseWatcher watcher = null;
        if (!later.isDone()) {
            call.request.addFailureListener(gone);
            watcher = ClientCloseWatcher.of(call.request, gone);
            if (watcher != null) {
                watcher.start();
            }
        }
        ClientCloseWatcher started = watcher;
        later.whenComplete((answer, failure) -> {
            if (started != null) {
                started.stop();
                if (started.pipelined()) {
                    call.response.getHeaders().put(HttpHeader.CONNECTION, "close");
                }
            }
            if (failure instanceof ClientLeft left) {
                call.leave(left.getCause());
            } else {
                write.accept(answer != null ? answer : new Reply.Error(500, "internal error", "internal"));
            }
        });
    }
}
