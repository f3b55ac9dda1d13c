/**
 * The queue proxy's own endpoints: health, readiness, metrics, queue status and controls, usage and the
 * dashboard. They decide what to answer ({@link dev.oqp.queue.admin.Reply}); the request path writes it.
 */
package dev.oqp.queue.admin;
