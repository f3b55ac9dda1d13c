/**
 * Per-client rate limits ({@link RateLimiter}: requests and tokens per minute, tokens per UTC day) and usage
 * accounting ({@link UsageLedger}: requests, tokens and cache hits per client and model, since start and per
 * day, served by {@code GET /usage}). State is kept per configured client id, so it is bounded by the
 * configuration.
 */
package dev.oqp.queue.limits;
