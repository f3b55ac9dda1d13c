/**
 * Per-client rate limits ({@link Limiter}: requests and tokens per minute, tokens per UTC day) and usage accounting
 * ({@link Usage}: requests, tokens and cache hits per client and model, since start and per day, served by
 * {@code GET /usage}). In this process's memory ({@link RateLimiter}, {@link UsageLedger}), or shared by replicas
 * through Valkey ({@link SharedRateLimiter}, {@link SharedUsage}: atomic scripts, each replica's share of every
 * limit while the backend is unreachable, announced by {@link Outage}). State is kept per configured client id, so
 * it is bounded by the configuration.
 */
package dev.oqp.queue.limits;
