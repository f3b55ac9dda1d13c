package dev.oqp.common.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * Every key the loader accepts has its row in {@code docs/configuration.md}, in its section's table: a key
 * added to the schema without documentation fails here. The keys are read from the loader itself (every
 * binder's nested {@code *Key} enum), so a new enum of keys fails too until it is mapped to its section below.
 */
class ConfigurationDocTest {
    /** The enum of the sections themselves. */
    private static final String ROOT = "ConfigLoader.Key";
    /** Enum of keys → (section heading, row prefix). */
    private static final Map<String, String[]> SECTIONS = Map.ofEntries(
            Map.entry("ServiceBinder.Key", new String[] {"services[]", ""}),
            Map.entry("ProxyBinder.Key", new String[] {"proxy", ""}),
            Map.entry("OllamaBinder.Key", new String[] {"ollama", ""}),
            Map.entry("Hosts.Key", new String[] {"ollama", "hosts[]."}),
            Map.entry("ModelsBinder.Key", new String[] {"ollama", "hosts[].models.<name>."}),
            Map.entry("QueueBinder.Key", new String[] {"queue", ""}),
            Map.entry("QueueBinder.TierKey", new String[] {"queue", "<tier>."}),
            Map.entry("AuthBinder.Key", new String[] {"auth", ""}),
            Map.entry("KeyBinder.Key", new String[] {"auth", "keys[]."}),
            Map.entry("AuthBinder.RateLimitKey", new String[] {"auth", "rate_limit."}),
            Map.entry("RoutingBinder.Key", new String[] {"routing", ""}),
            Map.entry("EmbeddingCacheBinder.Key", new String[] {"embedding_cache", ""}),
            Map.entry("KeepAliveBinder.Key", new String[] {"keep_alive", ""}),
            Map.entry("AdminBinder.Key", new String[] {"admin", ""}),
            Map.entry("LoggingBinder.Key", new String[] {"logging", ""}),
            Map.entry("SidecarBinder.Key", new String[] {"sidecar", ""}),
            Map.entry("WebhooksBinder.Key", new String[] {"webhooks", ""}),
            Map.entry("WebhooksBinder.EndpointKey", new String[] {"webhooks", "endpoints[]."}),
            Map.entry("CoordinationBinder.Key", new String[] {"coordination", ""}));

    @Test
    void everyConfigKeyHasARowInConfigurationMd() throws Exception {
        String doc = Files.readString(docs().resolve("configuration.md"));
        Map<String, List<String>> lists = keyLists();
        List<String> missing = new ArrayList<>();
        for (String root : lists.remove(ROOT)) {
            if (!doc.contains("\n## `" + root + "`") && !doc.contains("\n## `" + root + "[]`")) {
                missing.add("section ## `" + root + "`");
            }
        }
        for (Map.Entry<String, List<String>> list : lists.entrySet()) {
            String[] where = SECTIONS.get(list.getKey());
            assertThat(where).as(list.getKey() + " is mapped to a section of configuration.md in this test")
                    .isNotNull();
            String section = section(doc, where[0]);
            if (section == null) {
                missing.add("section ## `" + where[0] + "`");
                continue;
            }
            for (String key : list.getValue()) {
                String row = "\n| `" + where[1] + key;
                int at = section.indexOf(row);
                char next = at < 0 ? 0 : section.charAt(at + row.length());
                if (at < 0 || (next != '`' && next != '[' && next != '.')) {
                    missing.add(where[0] + ": " + where[1] + key);
                }
            }
        }
        assertThat(missing).as("keys without their row in docs/configuration.md").isEmpty();
    }

    /** Every nested enum of keys of the config package, by simple name ({@code ProxyBinder.Key}), to its keys. */
    private static Map<String, List<String>> keyLists() throws Exception {
        Map<String, List<String>> lists = new TreeMap<>();
        String pkg = ConfigLoader.class.getPackageName();
        Path classes = Path.of(ConfigLoader.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                .resolve(pkg.replace('.', '/'));
        List<String> files;
        try (Stream<Path> listing = Files.list(classes)) {
            files = listing.map(f -> f.getFileName().toString()).collect(Collectors.toList());
        }
        for (String file : files) {
            if (!file.contains("$") || !file.endsWith("Key.class")) {
                continue;
            }
            Class<?> type = Class.forName(pkg + "." + file.substring(0, file.length() - ".class".length()));
            if (type.isEnum()) {
                List<String> keys = new ArrayList<>();
                for (Object constant : type.getEnumConstants()) {
                    keys.add(Node.keyName((Enum<?>) constant));
                }
                lists.put(type.getName().substring(pkg.length() + 1).replace('$', '.'), keys);
            }
        }
        assertThat(lists).containsKey(ROOT);
        return lists;
    }

    /** The text from {@code ## `name`} to the next {@code ## } heading, or null. */
    private static String section(String doc, String name) {
        int start = doc.indexOf("\n## `" + name + "`");
        if (start < 0) {
            return null;
        }
        int end = doc.indexOf("\n## ", start + 4);
        return doc.substring(start, end < 0 ? doc.length() : end);
    }

    private static Path docs() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("docs/configuration.md"))) {
                return p.resolve("docs");
            }
        }
        throw new IllegalStateException("docs/configuration.md not found");
    }
}
