package dev.oqp.common.config;

import static dev.oqp.common.config.Values.or;

import java.util.regex.Pattern;

/** Binds {@code keep_alive:}; the value is kept as written, since Ollama reads it, not the proxy. */
final class KeepAliveBinder {

    /** The keys of {@code keep_alive:}. */
    enum Key { DEFAULT, OVERRIDE }

    /** What Go's {@code time.ParseDuration} accepts, which is how Ollama reads a string keep_alive. */
    private static final Pattern GO_DURATION = Pattern.compile("[-+]?((\\d+(\\.\\d*)?|\\.\\d+)(ns|us|µs|μs|ms|s|m|h))+");

    private KeepAliveBinder() {
    }

    static KeepAliveConfig bind(Node node) {
        KeepAliveConfig d = KeepAliveConfig.DEFAULT;
        Node.Mapping<Key> m = node.mapping(Key.class);
        Node valueNode = m.get(Key.DEFAULT);
        String value = or(valueNode.string(), d.defaultValue()).trim();
        if (!value.isEmpty() && !value.equals("0") && !value.matches("-?\\d{1,18}")
                && !GO_DURATION.matcher(value).matches()) {
            valueNode.problem(value + " (expected: a duration such as 10m, 1h30m, -1m or 0, or whole seconds such as 300 or -1)");
            value = d.defaultValue();
        }
        return new KeepAliveConfig(value, or(m.get(Key.OVERRIDE).bool(), d.override()));
    }
}
