/**
 * Reloading the queue proxy's configuration: the file watcher, what differs between two configurations
 * (live, restart-only, unused: derived from the config records) and the reload itself, which validates a new
 * configuration whole and has the proxy swap it in as one step.
 */
package dev.oqp.queue.reload;
