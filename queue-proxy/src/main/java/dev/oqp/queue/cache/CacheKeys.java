package dev.oqp.queue.cache;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import com.fasterxml.jackson.databind.JsonNode;
import dev.oqp.common.proxy.ErrorResponses;

/**
 * Derives the cache key of each input item of an embedding request.
 *
 * <p>A key is the key prefix plus the hex SHA-256 over, each part length-prefixed (4 bytes, big-endian) and
 * UTF-8: {@value #FORMAT}, the client id with {@code partition: client} (empty when shared), the shape's
 * {@linkplain EmbeddingShape#keyTag() key tag} ({@code /api/embed} vectors are normalised,
 * {@code /api/embeddings} ones are not, {@code /v1/embeddings} ones may be base64), the normalised model name,
 * the request's vector-changing fields in canonical JSON (object names sorted at every level, numbers and
 * strings as Jackson writes them), and the item's text. Equal texts get equal keys; no text is ever part of
 * a key.
 *
 * <p>Contract: these bytes are what entries already in a cache (Redis outlives the proxy) were written
 * under, so any change to them, however harmless it looks, loses every entry; a deliberate one takes a new
 * {@link #FORMAT}. Texts or fields holding an unpaired surrogate get no keys at all: Go embeds U+FFFD for it
 * where Java's encoder writes {@code ?}, so two texts Ollama tells apart could share a key.
 */
final class CacheKeys {
    /** Hashed first: the version of this derivation. */
    static final String FORMAT = "oqp-embed-1";

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private CacheKeys() {
    }

    /**
     * One key per item, in the items' order, or null when a text or a field holds an unpaired surrogate.
     *
     * @param partitionClient the client id with {@code partition: client}, else null
     * @param canonicalModel  the normalised model name (routing's), so that spellings of one model share keys
     * @param params          the vector-changing fields (names folded to lower case), as one JSON object
     */
    static List<String> of(String keyPrefix, String partitionClient, EmbeddingShape shape, String canonicalModel,
                           JsonNode params, List<String> items) {
        for (String item : items) {
            if (!wellFormed(item)) {
                return null;
            }
        }
        StringBuilder canonical = new StringBuilder();
        canonical(params, canonical);
        if (!wellFormed(canonical)) {
            return null;
        }
        // The parts every item shares are hashed once; each item continues from a copy.
        MessageDigest base = sha256();
        for (String part : new String[] {FORMAT, partitionClient == null ? "" : partitionClient, shape.keyTag(),
            canonicalModel, canonical.toString()}) {
            update(base, part);
        }
        List<String> keys = new ArrayList<>(items.size());
        for (String item : items) {
            MessageDigest digest;
            try {
                digest = (MessageDigest) base.clone();
            } catch (CloneNotSupportedException e) {
                throw new IllegalStateException(e);
            }
            update(digest, item);
            keys.add(keyPrefix + hex(digest.digest()));
        }
        return List.copyOf(keys);
    }

    /** False when {@code text} holds a surrogate that is not half of a pair. */
    static boolean wellFormed(CharSequence text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= text.length() || !Character.isLowSurrogate(text.charAt(i + 1))) {
                    return false;
                }
                i++;
            } else if (Character.isLowSurrogate(c)) {
                return false;
            }
        }
        return true;
    }

    /** JSON with object keys sorted at every level, numbers and strings as Jackson writes them. */
    static void canonical(JsonNode node, StringBuilder out) {
        if (node.isObject()) {
            TreeMap<String, JsonNode> sorted = new TreeMap<>();
            node.properties().forEach(e -> sorted.put(e.getKey(), e.getValue()));
            out.append('{');
            boolean first = true;
            for (Map.Entry<String, JsonNode> e : sorted.entrySet()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                out.append(ErrorResponses.quote(e.getKey())).append(':');
                canonical(e.getValue(), out);
            }
            out.append('}');
        } else if (node.isArray()) {
            out.append('[');
            for (int i = 0; i < node.size(); i++) {
                if (i > 0) {
                    out.append(',');
                }
                canonical(node.get(i), out);
            }
            out.append(']');
        } else {
            out.append(node.toString());
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /** Length first, so that no two sequences of parts hash the same bytes. */
    private static void update(MessageDigest digest, String part) {
        byte[] bytes = part.getBytes(StandardCharsets.UTF_8);
        int n = bytes.length;
        digest.update(new byte[] {(byte) (n >>> 24), (byte) (n >>> 16), (byte) (n >>> 8), (byte) n});
        digest.update(bytes);
    }

    private static String hex(byte[] bytes) {
        char[] out = new char[bytes.length * 2];
        for (int i = 0; i < bytes.length; i++) {
            out[2 * i] = HEX[(bytes[i] >> 4) & 0xf];
            out[2 * i + 1] = HEX[bytes[i] & 0xf];
        }
        return new String(out);
    }
}
