package dev.oqp.queue.server;

/** The names of the headers the queue proxy reads from clients or adds to what it sends (one place for all). */
final class Headers {
    static final String X_REQUEST_ID = "X-Request-ID";
    static final String X_CLIENT_ID = "X-Client-ID";
    static final String X_QUEUE_PRIORITY = "X-Queue-Priority";
    static final String X_QUEUE_WAIT_TIME = "X-Queue-Wait-Time";
    /** The longest wait a client accepts ({@code 30s}, {@code 1500ms}, or seconds); never sent upstream. */
    static final String X_QUEUE_MAX_WAIT = "X-Queue-Max-Wait";
    static final String X_UPSTREAM_HOST = "X-Upstream-Host";
    static final String X_OLLAMA_HOST = "X-Ollama-Host";
    static final String X_FAILOVER_ATTEMPTS = "X-Failover-Attempts";
    /** The host that answered (the Python tool's name for it): on every answer a host gave, failover or not. */
    static final String X_FAILOVER_HOST = "X-Failover-Host";
    /** 1-based place in the dispatch order when the request was queued; only on requests that waited. */
    static final String X_QUEUE_POSITION = "X-Queue-Position";
    static final String X_FAILOVER_EXHAUSTED = "X-Failover-Exhausted";
    static final String X_CACHE = "X-Cache";
    static final String X_FORWARDED_FOR = "X-Forwarded-For";
    /** Anthropic clients' key header: taken as a key on {@code /v1/messages}, never sent upstream. */
    static final String X_API_KEY = "x-api-key";
    /** What a client claims about itself or earlier hops: never passed on (the proxy base sets X-Forwarded-*). */
    static final String[] SPOOFABLE = {"X-Real-IP", "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Server",
        "X-Client-Name"};

    private Headers() {
    }
}
