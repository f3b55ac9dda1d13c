/**
 * The embedding cache (DESIGN.md "Embedding cache", pipeline steps 6 and 11): per-item keys over the
 * normalised model and every field that changes the vectors ({@link CacheKeys}), planned per request
 * ({@link CachePlan}) in each endpoint's own shape ({@link EmbeddingShape}), and two backends behind
 * {@link EmbeddingCache}: a bounded in-memory LRU with TTL (the default) and Valkey/Redis through Lettuce's
 * async API. A backend that is down, slow or answers garbage is a miss and a counted error, never a failed
 * request, unless {@code required: true}.
 */
package dev.oqp.queue.cache;
