/**
 * The queue proxy's priority scheduler (pipeline steps 7, 8 and 11): a pure-Java, thread-safe, non-blocking
 * three-tier queue with per-client round-robin, caps, aging, expiry and byte limits. No HTTP here: the proxy
 * creates a {@link dev.oqp.queue.scheduler.Ticket} per inference request, implements
 * {@link dev.oqp.queue.scheduler.Capacity} over its global cap, client caps and host slots, and answers the
 * ticket's outcome. {@link dev.oqp.queue.scheduler.Scheduler} documents the contract and the ordering rules.
 */
package dev.oqp.queue.scheduler;
