package dev.oqp.common.config;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Resolves the secret of one {@code auth.keys[]} entry from exactly one of {@code key}, {@code key_env},
 * {@code key_file} and {@code key_sha256}: the variable must be set, the file readable, small and UTF-8, the
 * secret long enough and free of whitespace. A secret is never echoed in a problem, not even in part.
 */
final class KeySources {

    /** The entry key of each source: the same name, so that a new source cannot be forgotten here. */
    private static final Map<KeyBinder.Key, KeyConfig.Source> SOURCES = new EnumMap<>(KeyBinder.Key.class);
    private static final String EXACTLY_ONE = "(expected exactly one of: " + Node.names(KeyConfig.Source.class) + ")";
    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern HEX64 = Pattern.compile("[0-9A-Fa-f]{64}");
    private static final int MIN_KEY_LENGTH = 16;
    private static final long MAX_KEY_FILE_BYTES = 64 * 1024;

    static {
        for (KeyConfig.Source source : KeyConfig.Source.values()) {
            SOURCES.put(KeyBinder.Key.valueOf(source.name()), source);
        }
    }

    /**
     * A resolved source: {@code key} is null only for {@code key_sha256}; {@code digest} is always set;
     * {@code path} is the YAML path of the source key.
     */
    record Secret(KeyConfig.Source source, String path, String key, String digest, String keyEnv, Path keyFile) {
    }

    private KeySources() {
    }

    /** The entry's secret, or {@code null} when none or several sources are written, or the one written failed. */
    static Secret resolve(Node element, Node.Mapping<KeyBinder.Key> m, Binding b) {
        List<KeyBinder.Key> given = new ArrayList<>();
        for (KeyBinder.Key key : SOURCES.keySet()) {
            if (m.has(key)) {
                given.add(key);
            }
        }
        if (given.isEmpty()) {
            element.problem("no key " + EXACTLY_ONE);
            return null;
        }
        if (given.size() > 1) {
            List<String> names = new ArrayList<>();
            given.forEach(key -> names.add(Node.keyName(key)));
            element.problem(String.join(", ", names) + " are all set " + EXACTLY_ONE);
            return null;
        }
        Node n = m.get(given.get(0));
        KeyConfig.Source source = SOURCES.get(given.get(0));
        String key = null;
        String digest = null;
        String keyEnv = null;
        Path keyFile = null;
        switch (source) {
            case KEY:
                key = secret(n, n.string());
                break;
            case KEY_ENV:
                keyEnv = n.string();
                if (keyEnv != null) {
                    key = secret(n, fromEnvironment(n, keyEnv, b.ctx.env));
                }
                break;
            case KEY_FILE:
                keyFile = Values.readableFile(n, b.baseDir);
                if (keyFile != null) {
                    key = secret(n, readKeyFile(n, keyFile));
                }
                break;
            default:
                digest = sha256(n);
                break;
        }
        if (key != null) {
            digest = KeyConfig.sha256Hex(key);
        }
        return digest == null ? null : new Secret(source, n.path, key, digest, keyEnv, keyFile);
    }

    /** The value of the variable {@code name}, or {@code null} when the name is invalid or the value unset or empty. */
    private static String fromEnvironment(Node node, String name, Map<String, String> env) {
        if (!ENV_NAME.matcher(name).matches()) {
            node.problem(Node.show(name) + " (expected: an environment variable name)");
        } else if (env.get(name) == null) {
            node.problem("environment variable " + name + " is not set");
        } else if (env.get(name).isEmpty()) {
            node.problem("environment variable " + name + " is empty");
        } else {
            return env.get(name);
        }
        return null;
    }

    /** A written digest, lowercase. */
    private static String sha256(Node node) {
        String hex = node.string();
        if (hex != null && !HEX64.matcher(hex.trim()).matches()) {
            node.problem("not a SHA-256 digest (expected: 64 hexadecimal characters)");
            return null;
        }
        return hex == null ? null : hex.trim().toLowerCase(Locale.ROOT);
    }

    /** Checks a shared secret without ever echoing it. */
    private static String secret(Node node, String value) {
        if (value == null) {
            return null;
        }
        if (value.isEmpty()) {
            node.problem("empty (expected: a secret of at least " + MIN_KEY_LENGTH + " characters)");
            return null;
        }
        if (value.length() < MIN_KEY_LENGTH) {
            node.problem("too short (expected: a secret of at least " + MIN_KEY_LENGTH + " characters)");
            return null;
        }
        if (placeholder(value)) {
            node.problem("a placeholder from an example, not a secret (expected: a random secret of at least "
                    + MIN_KEY_LENGTH + " characters, e.g. from `openssl rand -hex 32`)");
            return null;
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c <= 0x20 || c == 0x7f) {
                node.problem("contains whitespace or a control character (expected: a bearer token)");
                return null;
            }
        }
        return value;
    }

    /**
     * Words that mark the key of an example file wherever they stand in it ({@code sk-replace-with-a-long-random-key},
     * {@code my-changeme-key}), compared case-insensitively.
     */
    private static final List<String> PLACEHOLDER_WORDS = List.of("replace-with", "replace_with", "replacewith",
            "replaceme", "replace-me", "replace_me", "changeme", "change-me", "change_me", "changethis", "change-this",
            "your-key", "your_key", "yourkey", "your-api-key", "your_api_key", "your-secret", "your_secret",
            "example", "placeholder", "dummy", "insert-key", "put-your");

    /** The example keys of the Python tool's README and config.example.yml, refused as written. */
    private static final List<String> EXAMPLE_KEYS = List.of("sk-my-metrics-key", "sk-my-key", "sk-admin-key",
            "sk-read-key", "sk-management-key");

    /**
     * True for the placeholders of example files (a placeholder word anywhere, {@code xxxx…}, one repeated
     * character) and for the Python tool's documented example keys: a deployment that kept one is open to anyone
     * who read the example.
     */
    static boolean placeholder(String value) {
        String v = value.toLowerCase(Locale.ROOT);
        for (String word : PLACEHOLDER_WORDS) {
            if (v.contains(word)) {
                return true;
            }
        }
        return EXAMPLE_KEYS.contains(v) || v.startsWith("xxx") || v.matches("(.)\\1*");
    }

    /** The trimmed text of a key file; a file over 64 KiB is refused unread (it cannot be one key). */
    private static String readKeyFile(Node node, Path file) {
        try {
            if (Files.size(file) > MAX_KEY_FILE_BYTES) {
                node.problem(file + " is larger than 64KiB (expected: a file holding one key)");
                return null;
            }
            return Files.readString(file, StandardCharsets.UTF_8).trim();
        } catch (CharacterCodingException e) {
            node.problem(file + " is not UTF-8 text");
        } catch (IOException e) {
            node.problem(file + " cannot be read: " + e.getClass().getSimpleName());
        }
        return null;
    }
}
