package dev.oqp.queue.scheduler;

import java.util.Objects;

import dev.oqp.common.config.Tier;

/**
 * One tier's reserved slots at one instant ({@link Scheduler#reserves()}): {@code /queue/status} and
 * {@code oqp_reserved_slots_borrowed}.
 *
 * @param tier     the tier the slots are kept for
 * @param reserved its {@code reserved_slots}
 * @param borrow   how many of them other tiers may hold at once while nothing of it waits
 * @param borrowed how many of them other tiers hold now (its reserve not used by itself and not free); with
 *                 coordination, as this replica sees the slots
 */
public record Reserve(Tier tier, int reserved, int borrow, int borrowed) {

    public Reserve {
        Objects.requireNonNull(tier, "tier");
    }
}
