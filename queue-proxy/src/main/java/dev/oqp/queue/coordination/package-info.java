/**
 * Replicas of the queue proxy acting as one through Valkey or Redis ({@code coordination:}, off by default):
 * {@link dev.oqp.queue.coordination.Coordination} (heartbeat, live replicas, shared or degraded state) and
 * {@link dev.oqp.queue.coordination.SharedSlots} (the scheduler's capacity when on: slots as leases acquired all or
 * none by one Lua script, a shared waiting index ranking grants across replicas, cold loads coalesced on one host)
 * and {@link dev.oqp.queue.coordination.SharedHealth} (hosts marked down, in-flight counts per host over the
 * replicas). With no backend nothing here is
 * built. See docs/architecture.md, "Coordination: shared slots and priority across replicas".
 */
package dev.oqp.queue.coordination;
