package dev.oqp.queue.admin;

import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** What an own endpoint answers; the request path writes it and records the request. */
public sealed interface Reply {

    /** A body of the proxy's own, with headers of its own (security headers, caching). */
    record Content(int status, String contentType, byte[] body, Map<String, String> headers) implements Reply {
        public Content {
            headers = Map.copyOf(headers);
        }
    }

    /** An answer known later (a drain answers once the queue is empty); no thread waits for it. */
    record Deferred(CompletableFuture<Reply> reply) implements Reply {
    }

    /** An error, written in the client's API shape; {@code error} is the outcome logged. */
    record Error(int status, String message, String error) implements Reply {
    }
}
