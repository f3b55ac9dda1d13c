package dev.oqp.queue.limits;

import java.util.concurrent.CompletableFuture;

/**
 * Usage per client, model and UTC day as the request path records it and {@code GET /usage} reads it: in this
 * process's memory ({@link UsageLedger}), or summed over replicas in Valkey ({@link SharedUsage}).
 */
public interface Usage {

    /** Counts one answered inference request, its tokens and its cached embedding items. Never blocks or fails. */
    void record(String client, String model, long promptTokens, long completionTokens, long cacheHits);

    /** What {@code GET /usage} shows; the future never fails (a shared store that cannot answer says it is partial). */
    CompletableFuture<UsageReport> report();
}
