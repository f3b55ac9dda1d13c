package dev.oqp.common.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;

/**
 * Every key the loader accepts has its row in {@code docs/configuration.md}, in its section's table: a key
 * added to the schema without documentation fails here. The key lists are read from {@link ConfigLoader}
 * itself, so a new list of keys fails too until it is mapped to its section below.
 */
class ConfigurationDocTest {
    /** Loader key list → (section heading, row prefix). */
    private static final Map<String, String[]> SECTIONS = Map.ofEntries(
            Map.entry("SERVICE_KEYS", new String[] {"services[]", ""}),
            Map.entry("PROXY_KEYS", new String[] {"proxy", ""}),
            Map.entry("OLLAMA_KEYS", new String[] {"ollama", ""}),
            Map.entry("HOST_KEYS", new String[] {"ollama", "hosts[]."}),
            Map.entry("QUEUE_KEYS", new String[] {"queue", ""}),
            Map.entry("TIER_KEYS", new String[] {"queue", "<tier>."}),
            Map.entry("AUTH_KEYS", new String[] {"auth", ""}),
            Map.entry("KEY_KEYS", new String[] {"auth", "keys[]."}),
            Map.entry("KEY_SOURCES", new String[] {"auth", "keys[]."}),
            Map.entry("RATE_LIMIT_KEYS", new String[] {"auth", "rate_limit."}),
            Map.entry("ROUTING_KEYS", new String[] {"routing", ""}),
            Map.entry("CACHE_KEYS", new String[] {"embedding_cache", ""}),
            Map.entry("KEEP_ALIVE_KEYS", new String[] {"keep_alive", ""}),
            Map.entry("ADMIN_KEYS", new String[] {"admin", ""}),
            Map.entry("LOGGING_KEYS", new String[] {"logging", ""}),
            Map.entry("SIDECAR_KEYS", new String[] {"sidecar", ""}));

    @Test
    void everyConfigKeyHasARowInConfigurationMd() throws Exception {
        String doc = Files.readString(docs().resolve("configuration.md"));
        Map<String, List<String>> lists = keyLists();
        List<String> missing = new ArrayList<>();
        for (String root : lists.remove("ROOT_KEYS")) {
            if (!doc.contains("\n## `" + root + "`") && !doc.contains("\n## `" + root + "[]`")) {
                missing.add("section ## `" + root + "`");
            }
        }
        for (Map.Entry<String, List<String>> list : lists.entrySet()) {
            String[] where = SECTIONS.get(list.getKey());
            assertThat(where).as("ConfigLoader." + list.getKey() + " is mapped to a section of configuration.md in this test")
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

    private static Map<String, List<String>> keyLists() throws IllegalAccessException {
        Map<String, List<String>> lists = new TreeMap<>();
        for (Field field : ConfigLoader.class.getDeclaredFields()) {
            if (Modifier.isStatic(field.getModifiers()) && field.getType() == List.class
                    && (field.getName().endsWith("_KEYS") || field.getName().equals("KEY_SOURCES"))) {
                field.setAccessible(true);
                @SuppressWarnings("unchecked")
                List<String> keys = (List<String>) field.get(null);
                lists.put(field.getName(), keys);
            }
        }
        assertThat(lists).containsKey("ROOT_KEYS");
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
