package dev.oqp.common.config;

import static dev.oqp.common.config.Values.or;

import java.util.Locale;

/** Binds {@code logging:}; the level is matched without regard to case. */
final class LoggingBinder {

    /** The keys of {@code logging:}. */
    enum Key { LEVEL, FORMAT, ACCESS_LOG }

    private LoggingBinder() {
    }

    static LoggingConfig bind(Node node) {
        LoggingConfig d = LoggingConfig.DEFAULT;
        Node.Mapping<Key> m = node.mapping(Key.class);
        Node levelNode = m.get(Key.LEVEL);
        String level = or(levelNode.string(), d.level()).trim().toLowerCase(Locale.ROOT);
        if (!LoggingConfig.LEVELS.contains(level)) {
            levelNode.problem(Node.show(level) + " (expected one of: trace, debug, info, warn, error)");
            level = d.level();
        }
        return new LoggingConfig(level, or(m.get(Key.FORMAT).choice(LoggingConfig.Format.class), d.format()),
                or(m.get(Key.ACCESS_LOG).bool(), d.accessLog()));
    }
}
