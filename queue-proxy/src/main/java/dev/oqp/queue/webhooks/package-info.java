/**
 * Webhooks ({@code webhooks:}): events of the queue, the hosts, reloads and rate limits, POSTed as signed JSON to
 * the configured endpoints from a bounded queue, off the request path, with retries and an SSRF guard.
 * {@link dev.oqp.queue.webhooks.Webhooks} is the entry point; {@link dev.oqp.queue.webhooks.Event} builds the
 * payloads.
 */
package dev.oqp.queue.webhooks;
