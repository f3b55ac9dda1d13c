package dev.oqp.queue.scheduler;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

import dev.oqp.common.config.Tier;

/**
 * A consistent view of the scheduler at one instant. Immutable: the collections are copies, later operator
 * controls do not change a snapshot already taken.
 *
 * @param depth           waiting tickets per requested tier (every tier present)
 * @param queuedPerClient waiting tickets per client id (only clients with at least one)
 * @param queuedBytes     body bytes held by waiting tickets, all tiers together
 * @param inFlight        leases handed out by the scheduler and not yet released
 * @param paused          the tiers whose waiting tickets are not dispatched (by requested tier); iterates
 *                        highest tier first; empty when nothing is paused
 * @param draining        the tiers whose new tickets are rejected while what waits is still dispatched (unless
 *                        also paused); iterates highest tier first; empty when nothing drains
 */
public record Snapshot(Map<Tier, Integer> depth, Map<String, Integer> queuedPerClient, long queuedBytes,
        int inFlight, Set<Tier> paused, Set<Tier> draining) {

    public Snapshot {
        depth = Map.copyOf(depth);
        queuedPerClient = Map.copyOf(queuedPerClient);
        paused = immutableCopy(paused, "paused");
        draining = immutableCopy(draining, "draining");
    }

    /** Waiting tickets in all tiers. */
    public int totalDepth() {
        return depth.values().stream().mapToInt(Integer::intValue).sum();
    }

    /** Whether {@code tier} is paused. */
    public boolean paused(Tier tier) {
        return paused.contains(Objects.requireNonNull(tier, "tier"));
    }

    /** Whether {@code tier} is draining. */
    public boolean draining(Tier tier) {
        return draining.contains(Objects.requireNonNull(tier, "tier"));
    }

    private static Set<Tier> immutableCopy(Set<Tier> tiers, String name) {
        EnumSet<Tier> copy = EnumSet.noneOf(Tier.class);
        copy.addAll(Objects.requireNonNull(tiers, name));
        return Collections.unmodifiableSet(copy);
    }
}
