package dev.oqp.queue.webhooks;

import dev.oqp.common.config.Tier;
import dev.oqp.queue.scheduler.Scheduler;

/** The queue's transitions as webhook events: {@code queue.high_watermark} and {@code queue.drained}. */
final class QueueSignals implements Scheduler.Signals {
    private final Webhooks webhooks;

    QueueSignals(Webhooks webhooks) {
        this.webhooks = webhooks;
    }

    @Override
    public void highWatermark(Tier tier, int depth, int maxDepth) {
        webhooks.publish(Event.highWatermark(tier, depth, maxDepth));
    }

    @Override
    public void drained() {
        webhooks.publish(Event.drained());
    }
}
