package dev.oqp.queue.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;

import dev.oqp.common.config.AuthConfig;
import dev.oqp.common.config.BearerTokens;
import dev.oqp.common.config.KeyConfig;

/**
 * The configured keys, looked up by the SHA-256 digest of a presented bearer token.
 *
 * <p>Only digests are held: a key written as {@code key}, {@code key_env} or {@code key_file} and one written as
 * {@code key_sha256} are treated alike, and the registry never keeps or logs a presented token. The digest of the
 * token selects a candidate from a map, and the candidate's digest is then compared with {@link MessageDigest#isEqual}
 * (constant time), so response timing does not reveal how much of a guess matched.
 *
 * <p>When authentication is disabled every request is {@link Client#ANONYMOUS}, with or without a token.
 * Immutable and thread-safe; a config reload builds a new registry.
 */
public final class KeyRegistry {

    private record Entry(byte[] digest, Client client) {
    }

    private final boolean enabled;
    private final Map<String, Entry> byDigest;

    private KeyRegistry(boolean enabled, Map<String, Entry> byDigest) {
        this.enabled = enabled;
        this.byDigest = Map.copyOf(byDigest);
    }

    /** A registry of {@code auth.keys}; the loader has already rejected duplicate client ids and duplicate keys. */
    public static KeyRegistry from(AuthConfig auth) {
        Map<String, Entry> byDigest = new HashMap<>();
        if (auth.enabled()) {
            for (KeyConfig key : auth.keys()) {
                byDigest.put(key.keySha256(), new Entry(HexFormat.of().parseHex(key.keySha256()), Client.of(key)));
            }
        }
        return new KeyRegistry(auth.enabled(), byDigest);
    }

    /** True when requests must present a key; false when everyone is {@link Client#ANONYMOUS}. */
    public boolean enabled() {
        return enabled;
    }

    /**
     * The client whose key is {@code bearerToken}; empty when the token is {@code null} or matches no key.
     * When authentication is disabled, always {@link Client#ANONYMOUS}.
     */
    public Optional<Client> authenticate(String bearerToken) {
        if (!enabled) {
            return Optional.of(Client.ANONYMOUS);
        }
        if (bearerToken == null) {
            return Optional.empty();
        }
        byte[] presented = sha256(bearerToken);
        Entry entry = byDigest.get(HexFormat.of().formatHex(presented));
        if (entry == null || !MessageDigest.isEqual(entry.digest(), presented)) {
            return Optional.empty();
        }
        return Optional.of(entry.client());
    }

    /**
     * The token of an {@code Authorization} header value of the form {@code Bearer <token>}: the scheme is
     * matched ignoring case, surrounding whitespace is trimmed, and one or more spaces or tabs may separate scheme
     * and token. Returns {@code null} for a missing value, another scheme, an empty token, or a token containing
     * whitespace or control characters.
     */
    public static String bearerToken(String authorizationHeaderValue) {
        return BearerTokens.parse(authorizationHeaderValue);
    }

    /**
     * The key of an {@code x-api-key} value (how Anthropic clients send theirs), read like a bearer token: trimmed,
     * without whitespace or control characters; {@code null} for a missing or empty value or anything else.
     */
    public static String apiKeyToken(String xApiKeyHeaderValue) {
        return xApiKeyHeaderValue == null ? null : BearerTokens.parse("Bearer " + xApiKeyHeaderValue.strip());
    }

    /**
     * The password of an {@code Authorization: Basic …} value (the user name is ignored): how a browser
     * sends a key to the dashboard, which it cannot send as a bearer token. {@code null} for a missing value,
     * another scheme, bad base64, no colon, or an empty password.
     */
    public static String basicPassword(String authorizationHeaderValue) {
        if (authorizationHeaderValue == null) {
            return null;
        }
        String v = authorizationHeaderValue.strip();
        if (v.length() <= 6 || !v.regionMatches(true, 0, "basic ", 0, 6)) {
            return null;
        }
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(v.substring(6).strip()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return null;
        }
        int colon = decoded.indexOf(':');
        if (colon < 0 || colon == decoded.length() - 1) {
            return null;
        }
        return decoded.substring(colon + 1);
    }

    private static byte[] sha256(String token) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every JVM", e);
        }
    }

    /** Shows how many keys are registered, never a digest. */
    @Override
    public String toString() {
        return "KeyRegistry[enabled=" + enabled + ", keys=" + byDigest.size() + "]";
    }
}
