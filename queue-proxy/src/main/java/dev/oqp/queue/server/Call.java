package dev.oqp.queue.server;

import dev.oqp.common.config.Tier;
import dev.oqp.common.proxy.Upstream;
import dev.oqp.queue.auth.Client;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.metrics.UsageScanner;
import dev.oqp.queue.scheduler.Lease;
import dev.oqp.queue.scheduler.Ticket;
import org.eclipse.jetty.server.Request;

/**
 * What the pipeline learnt about one request, kept as a request attribute from the gate (steps 1-8) to the
 * forwarder's completion (step 11). Fields are written by the gate before the request is handed to the
 * forwarder (a happens-before edge: the hand-off goes through the scheduler's lock or an executor), and by
 * the forwarder's hooks afterwards; never by two threads at once.
 */
final class Call {
    private static final String ATTRIBUTE = Call.class.getName();

    final String requestId;
    final Port port;
    final long startNanos;
    String clientAddress;
    /** The authenticated client; null until step 3 succeeds. */
    Client client;
    Route route;
    /** The effective tier of a queued request; null for one that is not queued. */
    Tier tier;
    /** The body to send upstream when the gate read it (inference), else null: the body streams. */
    byte[] body;
    /** Canonical model name of an inference request, or null. */
    String model;
    /** The model name as the client wrote it (inference). */
    String spelledModel;
    /** The inference response streams (its first byte follows the model load, not the whole answer). */
    boolean stream;
    /** A load of the model started for a client that left during a cold load (see the forwarder); else null. */
    volatile java.util.concurrent.CompletableFuture<?> preload;
    long maxBody;
    /** The host the request is (being) sent to; changes on a failover. */
    Host host;
    Upstream upstream;
    /** The host was named by {@code X-Ollama-Host}: no other host is tried. */
    boolean named;
    /** The model is not known to be in memory on the host chosen: the first byte may wait for a load. */
    boolean cold;
    /** Upstream requests sent: 1, plus one per failover. */
    int attempts = 1;
    /** Hosts tried and failed (failover); null until the first failure. */
    java.util.Set<String> tried;
    /** A host already closed the connection before answering once: such a failure is not retried again. */
    boolean resetRetried;
    /** Every host able to serve the request failed to connect. */
    boolean failoverExhausted;
    Ticket ticket;
    /** The slots a dispatched request holds; released from the forwarder's completion, exactly once. */
    Lease lease;
    long waitedNanos = -1;
    /** The client left while its request was queued or being handed to the forwarder. */
    volatile boolean gone;
    /** A byte of the client's next request was read while watching: close the connection after this response. */
    boolean pipelined;
    UsageScanner usage;
    /** Tokens the rate limiter had this request pre-pay; taken (set to 0) by whoever settles them. */
    final java.util.concurrent.atomic.AtomicLong reservedTokens = new java.util.concurrent.atomic.AtomicLong();
    /** A cacheable embedding request's plan (step 6), or null. */
    dev.oqp.queue.cache.CachePlan cache;
    /** The cache the plan was looked up in (a reload may replace the pipeline's): its answer is stored there. */
    dev.oqp.queue.cache.CacheService cacheService;
    /** The request body was read (or will never be): an early answer need not drain it first. */
    boolean bodyRead;

    Call(String requestId, Port port, long startNanos) {
        this.requestId = requestId;
        this.port = port;
        this.startNanos = startNanos;
    }

    void attach(Request request) {
        request.setAttribute(ATTRIBUTE, this);
    }

    static Call of(Request request) {
        return (Call) request.getAttribute(ATTRIBUTE);
    }

    /** The client id for logs and metric labels. */
    String clientLabel() {
        return client == null ? "unauthenticated" : client.clientId();
    }
}
