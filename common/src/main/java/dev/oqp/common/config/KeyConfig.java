package dev.oqp.common.config;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;

/**
 * One client key ({@code auth.keys[]}). Exactly one of {@code key}, {@code key_env}, {@code key_file},
 * {@code key_sha256} is written in the file; the loader resolves the first three to the secret.
 * Look keys up by {@link #keySha256()}; {@link #toString()} never shows the secret.
 *
 * @param clientId      unique, {@code [A-Za-z0-9._-]{1,64}}; used in metrics labels and logs
 * @param source        which of the four keys was written
 * @param key           the resolved secret (at least 16 characters, no whitespace); {@code null} for {@code key_sha256}
 * @param keySha256     lowercase hex SHA-256 of the UTF-8 secret; always present
 * @param keyEnv        the variable named by {@code key_env}, else {@code null}
 * @param keyFile       the absolute path named by {@code key_file}, else {@code null}
 * @param maxPriority   ceiling for {@code X-Queue-Priority}; default {@link Tier#NORMAL}
 * @param scope         default {@link Scope#INFERENCE}
 * @param maxConcurrent this client's requests in flight upstream; default 0 = no cap
 * @param models        allowed model name globs ({@code *}, {@code ?}); default empty = all models
 * @param limits        requests and tokens per minute, tokens per day; default none
 * @param description   free text shown in {@code /queue/status} and the dashboard; default {@code null}
 * @param minSlots      slots of the fleet kept for this client's requests against every other client's: another
 *                      client's request may take one only while none of this client's waits (lent in full
 *                      otherwise); at most {@code maxConcurrent} when that is set; default 0 = none
 * @param earlyHeaders  this client's streamed native requests ({@code /api/generate}, {@code /api/chat}) get their
 *                      200 and headers once they waited {@code queue.early_headers_after}, and a failure as a final
 *                      {@code {"error":"…"}} line; default false (nothing is sent until dispatch)
 */
public record KeyConfig(String clientId, Source source, String key, String keySha256, String keyEnv, Path keyFile,
        Tier maxPriority, Scope scope, int maxConcurrent, List<String> models, RateLimits limits, String description,
        int minSlots, boolean earlyHeaders) {

    /** Which field of the key entry carried the secret. */
    public enum Source { KEY, KEY_ENV, KEY_FILE, KEY_SHA256 }

    public static final Tier DEFAULT_MAX_PRIORITY = Tier.NORMAL;
    public static final Scope DEFAULT_SCOPE = Scope.INFERENCE;
    /** No cap on this client's requests in flight. */
    public static final int DEFAULT_MAX_CONCURRENT = 0;

    public KeyConfig {
        Objects.requireNonNull(clientId, "clientId");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(keySha256, "keySha256");
        if (!keySha256.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("keySha256: expected 64 lowercase hex characters");
        }
        if ((key == null) != (source == Source.KEY_SHA256)) {
            throw new IllegalArgumentException("key: must be present unless source is KEY_SHA256");
        }
        if (key != null && !sha256Hex(key).equals(keySha256)) {
            throw new IllegalArgumentException("keySha256: does not match key");
        }
        if ((keyEnv != null) != (source == Source.KEY_ENV)) {
            throw new IllegalArgumentException("keyEnv: must be present exactly when source is KEY_ENV");
        }
        if ((keyFile != null) != (source == Source.KEY_FILE)) {
            throw new IllegalArgumentException("keyFile: must be present exactly when source is KEY_FILE");
        }
        Objects.requireNonNull(maxPriority, "maxPriority");
        Objects.requireNonNull(scope, "scope");
        Checks.range("maxConcurrent", maxConcurrent, 0, Integer.MAX_VALUE);
        models = List.copyOf(models);
        Objects.requireNonNull(limits, "limits");
        Checks.range("minSlots", minSlots, 0, maxConcurrent > 0 ? maxConcurrent : Integer.MAX_VALUE);
    }

    /** A key without early headers. */
    public KeyConfig(String clientId, Source source, String key, String keySha256, String keyEnv, Path keyFile,
                     Tier maxPriority, Scope scope, int maxConcurrent, List<String> models, RateLimits limits,
                     String description, int minSlots) {
        this(clientId, source, key, keySha256, keyEnv, keyFile, maxPriority, scope, maxConcurrent, models, limits,
                description, minSlots, false);
    }

    /** A key without reserved slots. */
    public KeyConfig(String clientId, Source source, String key, String keySha256, String keyEnv, Path keyFile,
                     Tier maxPriority, Scope scope, int maxConcurrent, List<String> models, RateLimits limits,
                     String description, boolean earlyHeaders) {
        this(clientId, source, key, keySha256, keyEnv, keyFile, maxPriority, scope, maxConcurrent, models, limits,
                description, 0, earlyHeaders);
    }

    /** A key without reserved slots or early headers. */
    public KeyConfig(String clientId, Source source, String key, String keySha256, String keyEnv, Path keyFile,
                     Tier maxPriority, Scope scope, int maxConcurrent, List<String> models, RateLimits limits,
                     String description) {
        this(clientId, source, key, keySha256, keyEnv, keyFile, maxPriority, scope, maxConcurrent, models, limits,
                description, 0, false);
    }

    /** A key without a description. */
    public KeyConfig(String clientId, Source source, String key, String keySha256, String keyEnv, Path keyFile,
                     Tier maxPriority, Scope scope, int maxConcurrent, List<String> models, RateLimits limits) {
        this(clientId, source, key, keySha256, keyEnv, keyFile, maxPriority, scope, maxConcurrent, models, limits, null);
    }

    /** A key without rate limits. */
    public KeyConfig(String clientId, Source source, String key, String keySha256, String keyEnv, Path keyFile,
                     Tier maxPriority, Scope scope, int maxConcurrent, List<String> models) {
        this(clientId, source, key, keySha256, keyEnv, keyFile, maxPriority, scope, maxConcurrent, models, RateLimits.NONE);
    }

    /** Lowercase hex SHA-256 of the UTF-8 bytes of {@code secret}: the lookup key for a presented bearer token. */
    public static String sha256Hex(String secret) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            return HexFormat.of().formatHex(digest.digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every JVM", e);
        }
    }

    /** The secret and its digest are shown as {@code ***}. */
    @Override
    public String toString() {
        return "KeyConfig[clientId=" + clientId + ", source=" + source + ", key=***, keySha256=***, keyEnv=" + keyEnv
                + ", keyFile=" + keyFile + ", maxPriority=" + maxPriority + ", scope=" + scope
                + ", maxConcurrent=" + maxConcurrent + ", models=" + models + ", limits=" + limits
                + ", description=" + description + ", minSlots=" + minSlots + ", earlyHeaders=" + earlyHeaders
                + "]";
    }
}
