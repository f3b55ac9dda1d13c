package dev.oqp.queue.cache;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.oqp.common.proxy.ErrorResponses;

/**
 * One cacheable embedding request: its input items, one cache key per item, what the cache held for them,
 * what to send upstream for the rest, and how to answer in the endpoint's own shape.
 *
 * <p><b>Keys.</b> SHA-256 over, each length-prefixed: a format version, the client id (with
 * {@code partition: client}; empty when shared), the endpoint ({@code /api/embed} vectors are normalised,
 * {@code /api/embeddings} ones are not, {@code /v1/embeddings} may be base64), the normalised model name,
 * every other top-level field of the body in a canonical form (names folded to lower case as Ollama's
 * decoder matches them, sorted, objects sorted recursively), and the item's text. Only {@code model},
 * the input itself, {@code keep_alive} (and OpenAI's {@code user}) are left out: any other field, known or
 * not, may change the vectors, so it splits the key. The key is {@code key_prefix} plus the hex digest; no
 * text is ever part of a key, a log line or a metric.
 *
 * <p><b>Values.</b> {@code oqp1} followed by the item's vector exactly as the upstream wrote it (a JSON array,
 * or a base64 JSON string for {@code encoding_format: base64}); a value not of that form is read as garbage:
 * a miss.
 *
 * <p>A request is cacheable when its input is a non-empty string or a non-empty array of at most
 * {@value #MAX_ITEMS} non-empty strings, no field appears twice (at any depth; top-level names also under case
 * folding), and no string holds an unpaired surrogate (Go would embed U+FFFD where Java's encoder writes
 * {@code ?}: two texts could share a key); anything else goes upstream untouched. A value read from the cache
 * is used only when it is exactly one JSON array of numbers or one string, within {@code max_entry_bytes}.
 */
public final class CachePlan {
    /** The three embedding endpoints, each with its own answer shape. */
    public enum Endpoint { EMBED, LEGACY, OPENAI }

    /** What the cache held for the request's items. */
    public enum Status { HIT, PARTIAL, MISS }

    /** Input items per cacheable request at most: a larger batch goes upstream uncached. */
    public static final int MAX_ITEMS = 2048;
    /** The largest answer assembled from cached vectors; a larger one is not answered from the cache. */
    public static final long MAX_ANSWER_BYTES = 64L << 20;

    private static final ObjectMapper JSON = com.fasterxml.jackson.databind.json.JsonMapper.builder()
            // Go's decoder merges a repeated object and keeps the last scalar; a tree keeps only the last of
            // each: two bodies Ollama reads differently could then share a key. Repeats are not cacheable.
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();
    private static final JsonFactory FACTORY = new JsonFactory();
    private static final byte[] MAGIC = "oqp1".getBytes(StandardCharsets.US_ASCII);
    private static final String FORMAT = "oqp-embed-1";
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private final Endpoint endpoint;
    private final ObjectNode body;
    private final String inputField;
    private final String spelledModel;
    private final List<String> items;
    private final List<String> keys;
    /** The distinct keys, in first order: what is looked up. */
    private final List<String> lookupKeys;
    private final long maxEntryBytes;
    /** Per item: the raw vector, once known (from the cache or the upstream); null while missing. */
    private final byte[][] vectors;
    /** The items the upstream is asked for, in the order of its answer. */
    private List<Integer> sent;
    /** What the lookup found; a miss until it answered. */
    private Status status = Status.MISS;
    private int hits;

    private CachePlan(Endpoint endpoint, ObjectNode body, String inputField, String spelledModel, List<String> items,
                      List<String> keys, long maxEntryBytes) {
        this.endpoint = endpoint;
        this.body = body;
        this.inputField = inputField;
        this.spelledModel = spelledModel;
        this.items = items;
        this.keys = keys;
        this.lookupKeys = List.copyOf(new java.util.LinkedHashSet<>(keys));
        this.maxEntryBytes = maxEntryBytes;
        this.vectors = new byte[items.size()][];
    }

    /** The endpoint of {@code path}, or null when it is not an embedding endpoint. */
    public static Endpoint endpointOf(String path) {
        return switch (path) {
            case "/api/embed" -> Endpoint.EMBED;
            case "/api/embeddings" -> Endpoint.LEGACY;
            case "/v1/embeddings" -> Endpoint.OPENAI;
            default -> null;
        };
    }

    /**
     * The plan for a request body, or null when the request is not cacheable (see the class comment).
     *
     * @param canonicalModel  the normalised model name (routing's)
     * @param spelledModel    the model as the client wrote it: answers echo it, as Ollama's do
     * @param partitionClient the client id with {@code partition: client}, else null
     */
    public static CachePlan of(String path, byte[] requestBody, String canonicalModel, String spelledModel,
                               String partitionClient, String keyPrefix, long maxEntryBytes) {
        Endpoint endpoint = endpointOf(path);
        if (endpoint == null || canonicalModel == null) {
            return null;
        }
        JsonNode tree;
        try {
            tree = JSON.readTree(requestBody);
        } catch (IOException e) {
            return null;
        }
        if (!(tree instanceof ObjectNode body)) {
            return null;
        }
        String wanted = endpoint == Endpoint.LEGACY ? "prompt" : "input";
        Set<String> skipped = endpoint == Endpoint.OPENAI ? Set.of("model", "input", "keep_alive", "user")
                : Set.of("model", wanted, "keep_alive");
        TreeMap<String, JsonNode> params = new TreeMap<>();
        Map<String, Boolean> seen = new HashMap<>();
        String inputField = null;
        JsonNode input = null;
        for (Iterator<Map.Entry<String, JsonNode>> it = body.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            String folded = field.getKey().toLowerCase(Locale.ROOT);
            if (seen.put(folded, Boolean.TRUE) != null) {
                return null;
            }
            if (folded.equals(wanted)) {
                inputField = field.getKey();
                input = field.getValue();
            } else if (!skipped.contains(folded)) {
                params.put(folded, field.getValue());
            }
        }
        List<String> items = items(input, endpoint);
        if (items == null) {
            return null;
        }
        StringBuilder canonical = new StringBuilder();
        canonical(JSON.valueToTree(params), canonical);
        if (!wellFormed(canonical)) {
            return null;
        }
        MessageDigest base = sha256();
        for (String part : new String[] {FORMAT, partitionClient == null ? "" : partitionClient, endpoint.name(),
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
        return new CachePlan(endpoint, body, inputField, spelledModel, List.copyOf(items), List.copyOf(keys), maxEntryBytes);
    }

    private static List<String> items(JsonNode input, Endpoint endpoint) {
        if (input == null) {
            return null;
        }
        if (input.isTextual()) {
            return input.asText().isEmpty() || !wellFormed(input.asText()) ? null : List.of(input.asText());
        }
        if (endpoint == Endpoint.LEGACY || !input.isArray() || input.isEmpty() || input.size() > MAX_ITEMS) {
            return null;
        }
        List<String> out = new ArrayList<>(input.size());
        for (JsonNode item : input) {
            if (!item.isTextual() || item.asText().isEmpty() || !wellFormed(item.asText())) {
                return null;
            }
            out.add(item.asText());
        }
        return out;
    }

    /** False when {@code text} holds a surrogate that is not half of a pair. */
    private static boolean wellFormed(CharSequence text) {
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
    private static void canonical(JsonNode node, StringBuilder out) {
        if (node.isObject()) {
            TreeMap<String, JsonNode> sorted = new TreeMap<>();
            node.fields().forEachRemaining(e -> sorted.put(e.getKey(), e.getValue()));
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

    // ---------------------------------------------------------------- after the lookup

    /** The cache keys, one per input item (items with the same text share one). */
    public List<String> keys() {
        return keys;
    }

    /** The distinct keys, in the order of their first item: what {@link #found} takes the values of. */
    public List<String> lookupKeys() {
        return lookupKeys;
    }

    public Endpoint endpoint() {
        return endpoint;
    }

    /**
     * Takes what the cache answered for {@link #lookupKeys()} (null: none). Returns how many values were
     * garbage (not one vector of this format within {@code max_entry_bytes}): their items count as missing.
     */
    public int found(byte[][] values) {
        int corrupt = 0;
        Map<String, byte[]> byKey = new HashMap<>();
        for (int k = 0; k < lookupKeys.size() && k < values.length; k++) {
            byte[] value = values[k];
            if (value == null) {
                continue;
            }
            byte[] vector = value.length - MAGIC.length <= maxEntryBytes ? unwrap(value) : null;
            if (vector == null) {
                corrupt++;
            } else {
                byKey.put(lookupKeys.get(k), vector);
            }
        }
        for (int i = 0; i < vectors.length; i++) {
            byte[] vector = byKey.get(keys.get(i));
            if (vector != null) {
                vectors[i] = vector;
                hits++;
            }
        }
        status = hits == vectors.length ? Status.HIT : hits == 0 ? Status.MISS : Status.PARTIAL;
        return corrupt;
    }

    private static byte[] unwrap(byte[] value) {
        int n = value.length - MAGIC.length;
        if (n < 2) {
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

    /** The size of the answer {@link #response} writes from the vectors known now (before the upstream's part, a lower bound). */
    public long answerBytes() {
        long size = 256 + (long) spelledModel.length() * 6;
        for (byte[] vector : vectors) {
            size += (vector == null ? 0 : vector.length) + 48;
        }
        return size;
    }

    /** Input items the cache answered. */
    public int hits() {
        return hits;
    }

    /** Input items the cache did not answer. */
    public int misses() {
        return vectors.length - hits;
    }

    /** What the lookup found ({@code X-Cache}): fixed once it answered, whatever the upstream adds later. */
    public Status status() {
        return status;
    }

    /**
     * The body to send upstream: unchanged on a miss; on a partial hit the same body with its input replaced
     * by the missing texts, each once, in their first order. Call once, after {@link #found}.
     */
    public byte[] upstreamBody(byte[] original) {
        List<Integer> missing = new ArrayList<>();
        Map<String, Integer> firstOf = new HashMap<>();
        for (int i = 0; i < vectors.length; i++) {
            if (vectors[i] == null && firstOf.putIfAbsent(keys.get(i), i) == null) {
                missing.add(i);
            }
        }
        if (status == Status.MISS) {
            List<Integer> all = new ArrayList<>(vectors.length);
            for (int i = 0; i < vectors.length; i++) {
                all.add(i);
            }
            sent = all;
            return original;
        }
        sent = missing;
        ObjectNode partial = body.deepCopy();
        ArrayNode input = partial.putArray(inputField);
        for (int i : missing) {
            input.add(items.get(i));
        }
        try {
            return JSON.writeValueAsBytes(partial);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---------------------------------------------------------------- the upstream's answer

    /** What an upstream answer held: the vectors in answer order, and the counts to report. */
    public record Answer(List<byte[]> vectors, long totalDuration, long loadDuration, long promptTokens) {
    }

    /** Reads an upstream 200 answer of this endpoint; throws when it is not of the expected shape. */
    public Answer parse(byte[] upstream) throws IOException {
        List<byte[]> out = new ArrayList<>();
        Map<Integer, byte[]> byIndex = new TreeMap<>();
        long total = 0;
        long load = 0;
        long prompt = 0;
        try (JsonParser p = FACTORY.createParser(upstream)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException("upstream answer is not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                switch (endpoint) {
                    case EMBED -> {
                        if (name.equals("embeddings") && value == JsonToken.START_ARRAY) {
                            while (p.nextToken() == JsonToken.START_ARRAY) {
                                out.add(slice(upstream, p));
                            }
                            continue;
                        }
                        if (name.equals("total_duration")) {
                            total = p.getValueAsLong();
                        } else if (name.equals("load_duration")) {
                            load = p.getValueAsLong();
                        } else if (name.equals("prompt_eval_count")) {
                            prompt = p.getValueAsLong();
                        }
                    }
                    case LEGACY -> {
                        if (name.equals("embedding") && value == JsonToken.START_ARRAY) {
                            out.add(slice(upstream, p));
                            continue;
                        }
                    }
                    case OPENAI -> {
                        if (name.equals("data") && value == JsonToken.START_ARRAY) {
                            int position = 0;
                            while (p.nextToken() == JsonToken.START_OBJECT) {
                                byte[] vector = null;
                                int index = position++;
                                while (p.nextToken() == JsonToken.FIELD_NAME) {
                                    String field = p.currentName();
                                    JsonToken t = p.nextToken();
                                    if (field.equals("embedding") && t == JsonToken.START_ARRAY) {
                                        vector = slice(upstream, p);
                                    } else if (field.equals("embedding") && t == JsonToken.VALUE_STRING) {
                                        vector = ErrorResponses.quote(p.getText()).getBytes(StandardCharsets.UTF_8);
                                    } else if (field.equals("index") && t == JsonToken.VALUE_NUMBER_INT) {
                                        index = p.getIntValue();
                                    } else {
                                        p.skipChildren();
                                    }
                                }
                                if (vector == null || byIndex.put(index, vector) != null) {
                                    throw new IOException("upstream answer has an item without an embedding, or twice");
                                }
                            }
                            continue;
                        }
                        if (name.equals("usage") && value == JsonToken.START_OBJECT) {
                            while (p.nextToken() == JsonToken.FIELD_NAME) {
                                String field = p.currentName();
                                p.nextToken();
                                if (field.equals("prompt_tokens")) {
                                    prompt = p.getValueAsLong();
                                } else {
                                    p.skipChildren();
                                }
                            }
                            continue;
                        }
                    }
                }
                p.skipChildren();
            }
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IOException("upstream answer is not valid JSON", e);
        }
        if (endpoint == Endpoint.OPENAI) {
            int expected = 0;
            for (Map.Entry<Integer, byte[]> e : byIndex.entrySet()) {
                if (e.getKey() != expected++) {
                    throw new IOException("upstream answer's indexes are not 0..n-1");
                }
                out.add(e.getValue());
            }
        }
        return new Answer(out, total, load, prompt);
    }

    /** The raw bytes of the array the parser is at (its START_ARRAY), leaving the parser after its end. */
    private static byte[] slice(byte[] source, JsonParser p) throws IOException {
        int start = (int) p.currentTokenLocation().getByteOffset();
        p.skipChildren();
        int end = (int) p.currentLocation().getByteOffset();
        if (start < 0 || end > source.length || end - start < 2 || source[start] != '[' || source[end - 1] != ']') {
            throw new IOException("upstream vector could not be located");
        }
        byte[] out = new byte[end - start];
        System.arraycopy(source, start, out, 0, out.length);
        return out;
    }

    /**
     * Takes the vectors of an upstream answer for the items sent, and returns the entries to store: each
     * new, non-empty vector within {@code max_entry_bytes}, by key. Throws when the answer has another
     * number of vectors than items were sent.
     */
    public Map<String, byte[]> learn(Answer answer) throws IOException {
        if (sent == null) {
            throw new IllegalStateException("upstreamBody was not called");
        }
        if (answer.vectors().size() != sent.size()) {
            throw new IOException("upstream answered " + answer.vectors().size() + " embeddings for " + sent.size()
                    + " inputs");
        }
        Map<String, byte[]> byKey = new LinkedHashMap<>();
        for (int k = 0; k < sent.size(); k++) {
            byKey.put(keys.get(sent.get(k)), answer.vectors().get(k));
        }
        Map<String, byte[]> store = new LinkedHashMap<>();
        for (int i = 0; i < vectors.length; i++) {
            if (vectors[i] == null) {
                byte[] vector = byKey.get(keys.get(i));
                vectors[i] = vector;
                if (vector != null && vector.length > 2 && vector.length <= maxEntryBytes && !store.containsKey(keys.get(i))) {
                    byte[] value = new byte[MAGIC.length + vector.length];
                    System.arraycopy(MAGIC, 0, value, 0, MAGIC.length);
                    System.arraycopy(vector, 0, value, MAGIC.length, vector.length);
                    store.put(keys.get(i), value);
                }
            }
        }
        return store;
    }

    /**
     * The answer for the client in the endpoint's shape, every vector in the order of the request's items.
     * {@code answer} gives the counts (durations, tokens) of the upstream's part; null for a full hit, whose
     * counts are zero: nothing was evaluated.
     */
    public byte[] response(Answer answer) throws IOException {
        if (answerBytes() > MAX_ANSWER_BYTES) {
            throw new IOException("embedding answer larger than " + MAX_ANSWER_BYTES + " bytes to assemble");
        }
        long total = answer == null ? 0 : answer.totalDuration();
        long load = answer == null ? 0 : answer.loadDuration();
        long prompt = answer == null ? 0 : answer.promptTokens();
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream((int) answerBytes());
        switch (endpoint) {
            case EMBED -> {
                write(out, "{\"model\":" + ErrorResponses.quote(spelledModel) + ",\"embeddings\":[");
                for (int i = 0; i < vectors.length; i++) {
                    if (i > 0) {
                        out.write(',');
                    }
                    out.writeBytes(vectors[i]);
                }
                write(out, "],\"total_duration\":" + total + ",\"load_duration\":" + load + ",\"prompt_eval_count\":"
                        + prompt + "}");
            }
            case LEGACY -> {
                write(out, "{\"embedding\":");
                out.writeBytes(vectors[0]);
                out.write('}');
            }
            case OPENAI -> {
                write(out, "{\"object\":\"list\",\"data\":[");
                for (int i = 0; i < vectors.length; i++) {
                    write(out, (i > 0 ? "," : "") + "{\"object\":\"embedding\",\"embedding\":");
                    out.writeBytes(vectors[i]);
                    write(out, ",\"index\":" + i + "}");
                }
                write(out, "],\"model\":" + ErrorResponses.quote(spelledModel) + ",\"usage\":{\"prompt_tokens\":" + prompt
                        + ",\"total_tokens\":" + prompt + "}}");
            }
        }
        return out.toByteArray();
    }

    private static void write(java.io.ByteArrayOutputStream out, String ascii) {
        out.writeBytes(ascii.getBytes(StandardCharsets.UTF_8));
    }
}
