package dev.oqp.common.log;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.core.spi.ContextAwareBase;

/**
 * Logback's start-up configuration, found through {@code ServiceLoader}: JSON lines at INFO until the
 * configuration file says otherwise (Logback's built-in default would log everything at DEBUG).
 */
public final class DefaultLogbackConfigurator extends ContextAwareBase implements Configurator {
    @Override
    public ExecutionStatus configure(LoggerContext context) {
        Logging.install(context, Level.INFO, true);
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }
}
