package dev.oqp.queue.server;

import dev.oqp.queue.limits.Usage;
import dev.oqp.queue.metrics.QueueMetrics;

/** One successful inference request in {@code GET /usage} and its metrics (model names bounded as labels). */
final class UsageRecorder {
    private final QueueMetrics metrics;
    private final Usage usage;

    UsageRecorder(QueueMetrics metrics, Usage usage) {
        this.metrics = metrics;
        this.usage = usage;
    }

    void record(String client, String model, long prompt, long completion, long cacheHits) {
        String label = metrics.modelLabel(model);
        usage.record(client, label, prompt, completion, cacheHits);
        metrics.usageRequests.labelValues(client, label).inc();
        if (cacheHits > 0) {
            metrics.clientCacheHits.labelValues(client).inc(cacheHits);
        }
    }
}
