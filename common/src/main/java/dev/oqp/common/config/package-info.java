/**
 * The configuration of both binaries: one YAML file bound by {@link dev.oqp.common.config.ConfigLoader}
 * into an immutable tree of records rooted at {@link dev.oqp.common.config.OqpConfig}, every problem
 * collected with its YAML path into a {@link dev.oqp.common.config.ConfigException}, and printed with
 * secrets redacted by {@link dev.oqp.common.config.ConfigPrinter}. Reference: {@code docs/configuration.md}.
 */
package dev.oqp.common.config;
