package dev.oqp.queue.cache;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

/**
 * The format of a cached value: {@code oqp1} followed by one item's vector exactly as the upstream wrote it
 * (a JSON array of numbers, or a base64 JSON string for {@code encoding_format: base64}).
 *
 * <p>Contract: {@link #decode} returns only what may be copied byte for byte into a client's answer, exactly
 * one JSON array of numbers or one JSON string within {@code max_entry_bytes}; anything else a backend holds
 * (another writer's data, a truncated value, JSON that would close the answer's array early) is garbage: a
 * miss. Values already stored were written in this format, so it does not change.
 */
final class CacheValues {
    private static final byte[] MAGIC = "oqp1".getBytes(StandardCharsets.US_ASCII);
    private static final JsonFactory FACTORY = new JsonFactory();

    private CacheValues() {
    }

    /**
     * The value to store for an upstream's {@code vector}, or null when it is not worth storing: empty
     * ({@code []} or {@code ""}) or over {@code maxEntryBytes}.
     */
    static byte[] encode(byte[] vector, long maxEntryBytes) {
        if (vector.length <= 2 || vector.length > maxEntryBytes) {
            return null;
        }
        byte[] value = new byte[MAGIC.length + vector.length];
        System.arraycopy(MAGIC, 0, value, 0, MAGIC.length);
        System.arraycopy(vector, 0, value, MAGIC.length, vector.length);
        return value;
    }

    /** The vector a cached {@code value} holds, or null when the value is garbage (see the class comment). */
    static byte[] decode(byte[] value, long maxEntryBytes) {
        int n = value.length - MAGIC.length;
        if (n > maxEntryBytes || n < 2) {
            return null;
        }
        for (int i = 0; i < MAGIC.length; i++) {
            if (value[i] != MAGIC[i]) {
                return null;
            }
        }
        byte[] vector = new byte[n];
        System.arraycopy(value, MAGIC.length, vector, 0, n);
        return isVector(vector) ? vector : null;
    }

    /** True for exactly one JSON array of numbers, or one JSON string, and nothing else (a whole parse). */
    private static boolean isVector(byte[] json) {
        try (JsonParser p = FACTORY.createParser(json)) {
            JsonToken t = p.nextToken();
            if (t == JsonToken.VALUE_STRING) {
                return p.nextToken() == null;
            }
            if (t != JsonToken.START_ARRAY) {
                return false;
            }
            do {
                t = p.nextToken();
            } while (t == JsonToken.VALUE_NUMBER_FLOAT || t == JsonToken.VALUE_NUMBER_INT);
            return t == JsonToken.END_ARRAY && p.nextToken() == null;
        } catch (IOException e) {
            return false;
        }
    }
}
