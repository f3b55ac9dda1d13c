package dev.oqp.queue.scheduler;

import java.util.Objects;

import dev.oqp.common.config.Tier;

/**
 * Where a waiting ticket stands at one instant ({@link Scheduler#standing}).
 *
 * @param position    its 1-based place in the dispatch order now (as "Position" in {@link Scheduler} counts it)
 * @param tier        its effective tier now (the requested one raised by aging)
 * @param waitedNanos time since it was submitted
 * @param etaNanos    the estimated wait before it is dispatched ({@link Scheduler#estimateNanos})
 */
public record Standing(int position, Tier tier, long waitedNanos, long etaNanos) {
    public Standing {
        Objects.requireNonNull(tier, "tier");
    }
}
