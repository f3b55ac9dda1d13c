package dev.oqp.common.testing;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** The installed and loaded models of the fake, with Ollama's name matching (§3 of the API digest). */
final class Models {

    static final Duration DEFAULT_KEEP_ALIVE = Duration.ofMinutes(5);
    static final Instant FOREVER = OffsetDateTime.parse("2318-01-01T00:00:00Z").toInstant();

    record Model(String name, Instant modifiedAt, long size, String digest, String family, boolean embedding) {
    }

    private final Map<String, Model> installed = new LinkedHashMap<>();
    private final Map<String, Instant> loaded = new LinkedHashMap<>();

    /** Canonical key: trimmed, {@code :latest} added, default host and {@code library/} stripped, lower case. */
    static String canonical(String name) {
        String n = name.trim();
        int slash = n.lastIndexOf('/');
        if (n.indexOf(':', slash + 1) < 0) {
            n = n + ":latest";
        }
        if (n.startsWith("registry.ollama.ai/")) {
            n = n.substring("registry.ollama.ai/".length());
        }
        if (n.startsWith("library/")) {
            n = n.substring("library/".length());
        }
        return n.toLowerCase(Locale.ROOT);
    }

    static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    synchronized void install(String name) {
        String key = canonical(name);
        if (installed.containsKey(key)) {
            return;
        }
        String display = key;
        Instant modified = Instant.now().minus(Duration.ofHours(installed.size() + 1));
        String digest = sha256(key);
        long size = 1_000_000_000L + Long.parseLong(digest.substring(0, 7), 16) * 100;
        String base = key.substring(key.lastIndexOf('/') + 1);
        String family = base.replaceAll("[^a-z].*$", "");
        boolean embedding = base.contains("embed") || base.contains("minilm");
        installed.put(key, new Model(display, modified, size, digest, family.isEmpty() ? "llama" : family, embedding));
    }

    synchronized Model find(String name) {
        return name == null || name.isBlank() ? null : installed.get(canonical(name));
    }

    synchronized boolean remove(String name) {
        String key = canonical(name);
        loaded.remove(key);
        return installed.remove(key) != null;
    }

    synchronized void load(String name, Duration keepAlive) {
        String key = canonical(name);
        if (installed.containsKey(key)) {
            loaded.put(key, keepAlive.isNegative() ? FOREVER : Instant.now().plus(keepAlive));
        }
    }

    synchronized void unload(String name) {
        loaded.remove(canonical(name));
    }

    synchronized boolean isLoaded(String name) {
        return loaded.containsKey(canonical(name));
    }

    synchronized List<Model> installed() {
        List<Model> models = new ArrayList<>(installed.values());
        models.sort(Comparator.comparing(Model::modifiedAt).reversed());
        return models;
    }

    synchronized List<Map.Entry<Model, Instant>> loaded() {
        List<Map.Entry<Model, Instant>> models = new ArrayList<>();
        loaded.forEach((key, expires) -> models.add(Map.entry(installed.get(key), expires)));
        models.sort(Map.Entry.<Model, Instant>comparingByValue().reversed());
        return models;
    }

    static ObjectNode details(Model model) {
        ObjectNode details = Json.object();
        details.put("parent_model", "").put("format", "gguf").put("family", model.family());
        details.putArray("families").add(model.family());
        details.put("parameter_size", model.embedding() ? "23M" : "8.0B")
                .put("quantization_level", model.embedding() ? "F16" : "Q4_K_M");
        return details;
    }

    static ObjectNode entry(Model model) {
        ObjectNode entry = Json.object();
        entry.put("name", model.name()).put("model", model.name())
                .put("modified_at", local(model.modifiedAt()))
                .put("size", model.size()).put("digest", model.digest());
        entry.set("details", details(model));
        return entry;
    }

    static String local(Instant instant) {
        return OffsetDateTime.ofInstant(instant, ZoneId.systemDefault()).toString();
    }
}
