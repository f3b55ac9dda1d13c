/**
 * Authentication of queue-proxy clients: bearer keys looked up by digest ({@link dev.oqp.queue.auth.KeyRegistry}),
 * the authenticated {@link dev.oqp.queue.auth.Client} and its model allow-list ({@link dev.oqp.queue.auth.ModelGlobs}),
 * the per-IP limiter of failed key checks ({@link dev.oqp.queue.auth.FailureLimiter}), the client address behind
 * trusted proxies ({@link dev.oqp.queue.auth.ClientAddress}) and start-up warnings about key files
 * ({@link dev.oqp.queue.auth.KeyFiles}). Pure Java: no HTTP server types appear here.
 */
package dev.oqp.queue.auth;
