package dev.oqp.common.config;

import java.util.List;

/**
 * Every problem found while loading a configuration, one line each, each starting with its YAML
 * path ({@code services[1].listen: 80 (expected: 1024-65535)}). The binaries print
 * {@link #getMessage()} and exit with status 2. No message contains a secret.
 */
public final class ConfigException extends Exception {

    private static final long serialVersionUID = 1L;

    private final List<String> problems;

    /** @param problems at least one problem, in the order found */
    public ConfigException(List<String> problems) {
        super(String.join("\n", problems));
        if (problems.isEmpty()) {
            throw new IllegalArgumentException("problems: empty (expected: at least one)");
        }
        this.problems = List.copyOf(problems);
    }

    /** The problems, one line each, in the order found. */
    public List<String> problems() {
        return problems;
    }
}
