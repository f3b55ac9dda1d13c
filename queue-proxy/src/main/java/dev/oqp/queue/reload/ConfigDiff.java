package dev.oqp.queue.reload;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

import dev.oqp.common.config.OqpConfig;

/**
 * What differs between two configurations, by option, derived from the config records themselves: every
 * option is a path of record component names in YAML's spelling ({@code proxy.max_body}), found by walking
 * {@link OqpConfig}'s records; a list or a map is one option. Each option is in exactly one class: applied
 * live by a reload, applied only by a restart, or not used by the queue proxy at all. A new option in a
 * record that is in none of them fails the test that walks every option, instead of escaping silently.
 */
public final class ConfigDiff {
    /** Options (or whole sections) a reload applies to requests from then on. */
    static final List<String> LIVE = List.of("auth", "ollama.hosts", "ollama.request_timeout", "ollama.models", "queue",
            "routing",
            "proxy.max_concurrent", "proxy.trusted_proxies", "proxy.drain_timeout", "proxy.allow_model_management",
            "embedding_cache", "keep_alive", "admin", "logging", "webhooks");
    /** Options that keep their running values until a restart (listeners and what the start built once). */
    static final List<String> RESTART_ONLY = List.of("proxy.host", "proxy.port", "proxy.allow_public",
            "proxy.max_body", "services", "ollama.connect_timeout", "ollama.health_check_interval",
            "ollama.model_sync_interval", "coordination");
    /** Options the queue proxy does not use. */
    static final List<String> UNUSED = List.of("sidecar");

    private ConfigDiff() {
    }

    /** The restart-only options in which {@code next} differs from {@code running} (the start's). */
    public static List<String> restartNeeded(OqpConfig running, OqpConfig next) {
        List<String> out = new ArrayList<>();
        for (String option : options()) {
            if (within(option, RESTART_ONLY) && !Objects.equals(value(running, option), value(next, option))) {
                out.add(option);
            }
        }
        return out;
    }

    /** The sections with a live option that differs between {@code old} and {@code next}, in file order. */
    public static List<String> changedSections(OqpConfig old, OqpConfig next) {
        Set<String> out = new LinkedHashSet<>();
        for (String option : options()) {
            if (within(option, LIVE) && !Objects.equals(value(old, option), value(next, option))) {
                out.add(option.split("\\.", 2)[0]);
            }
        }
        return List.copyOf(out);
    }

    /** Every option of the configuration, in record order: a component that is not a record is one option. */
    static List<String> options() {
        List<String> out = new ArrayList<>();
        walk(OqpConfig.class, "", out);
        return out;
    }

    /** True when {@code option} is one of {@code classes} or lies inside one of them. */
    static boolean within(String option, List<String> classes) {
        for (String c : classes) {
            if (option.equals(c) || option.startsWith(c + ".")) {
                return true;
            }
        }
        return false;
    }

    private static void walk(Class<?> type, String prefix, List<String> out) {
        for (RecordComponent component : type.getRecordComponents()) {
            String path = prefix + yamlName(component.getName());
            if (component.getType().isRecord()) {
                walk(component.getType(), path + ".", out);
            } else {
                out.add(path);
            }
        }
    }

    private static Object value(Object root, String option) {
        Object at = root;
        for (String part : option.split("\\.")) {
            at = component(at, part);
        }
        return at;
    }

    private static Object component(Object record, String yamlName) {
        for (RecordComponent component : record.getClass().getRecordComponents()) {
            if (yamlName(component.getName()).equals(yamlName)) {
                try {
                    return component.getAccessor().invoke(record);
                } catch (IllegalAccessException | InvocationTargetException e) {
                    throw new IllegalStateException(component + " cannot be read", e);
                }
            }
        }
        throw new IllegalArgumentException(yamlName + " is not a component of " + record.getClass().getSimpleName());
    }

    /** {@code maxQueuedBytes} as YAML spells it: {@code max_queued_bytes}. */
    static String yamlName(String componentName) {
        StringBuilder out = new StringBuilder(componentName.length() + 4);
        for (char c : componentName.toCharArray()) {
            if (Character.isUpperCase(c)) {
                out.append('_').append(Character.toLowerCase(c));
            } else {
                out.append(c);
            }
        }
        return out.toString().toLowerCase(Locale.ROOT);
    }
}
