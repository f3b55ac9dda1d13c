package dev.oqp.queue.scheduler;

import dev.oqp.common.config.Tier;
import java.util.Map;

/**
 * A consistent view of the scheduler at one instant.
 *
 * @param depth           waiting tickets per requested tier (every tier present)
 * @param queuedPerClient waiting tickets per client id (only clients with at least one)
 * @param queuedBytes     body bytes held by waiting tickets, all tiers together
 * @param inFlight        leases handed out by the scheduler and not yet released
 * @param paused          dispatch is held
 * @param draining        nothing new is accepted; the queue is still dispatched
 */
public record Snapshot(Map<Tier, Integer> depth, Map<String, Integer> queuedPerClient, long queuedBytes,
        int inFlight, boolean paused, boolean draining) {

    public Snapshot {
        depth = Map.copyOf(depth);
        queuedPerClient = Map.copyOf(queuedPerClient);
    }

    /** Waiting tickets in all tiers. */
    public int totalDepth() {
        return depth.values().stream().mapToInt(Integer::intValue).sum();
    }
}
