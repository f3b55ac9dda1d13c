/** What the embedding cache and the replicas' coordination share to reach Valkey or Redis. */
package dev.oqp.queue.valkey;
