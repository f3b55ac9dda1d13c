package dev.oqp.queue.scheduler;

import dev.oqp.common.config.Tier;

/**
 * The operator's queue controls ({@code POST /queue/pause|resume|drain|flush}); each applies to one requested tier,
 * or to all three when the tier is null. The {@link Scheduler} applies them to its own queue; with coordination they
 * apply to every replica's.
 */
public interface QueueControls {
    /** See {@link Scheduler#pause(Tier)}. */
    void pause(Tier tier);

    /** See {@link Scheduler#resume(Tier)}. */
    void resume(Tier tier);

    /** See {@link Scheduler#drain(Tier)}. */
    void drain(Tier tier);

    /** See {@link Scheduler#flush(Tier)}; returns how many waiting requests this process flushed. */
    int flush(Tier tier);
}
