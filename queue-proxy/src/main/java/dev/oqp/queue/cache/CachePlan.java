package dev.oqp.queue.cache;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * One cacheable embedding request: its input items, one cache key per item, what the cache held for them,
 * what to send upstream for the rest, and how to answer in the endpoint's own shape.
 *
 * <p>Keys are {@link CacheKeys}'s: over the normalised model, every top-level field of the body but
 * {@code model}, the input itself, {@code keep_alive} (and OpenAI's {@code user}), and the item's text; any
 * other field, known or not, may change the vectors, so it splits the key. No text is ever part of a key, a
 * log line or a metric. Values are {@link CacheValues}'s: the item's vector exactly as the upstream wrote it.
 *
 * <p>A request is cacheable when {@link EmbeddingShape} reads it (one object, no field twice, a non-empty
 * string or array of at most {@value #MAX_ITEMS} non-empty strings) and no string holds an unpaired surrogate;
 * anything else goes upstream untouched. A plan is used by one request at a time: {@link #found}, then
 * {@link #upstreamBody} unless it was a full hit, then {@link #parse} and {@link #learn}, then
 * {@link #response}.
 */
public final class CachePlan {
    /** What the cache held for the request's items. */
    public enum Status { HIT, PARTIAL, MISS }

    /** Input items per cacheable request at most: a larger batch goes upstream uncached. */
    public static final int MAX_ITEMS = 2048;
    /** The largest answer assembled from cached vectors; a larger one is not answered from the cache. */
    public static final long MAX_ANSWER_BYTES = 64L << 20;

    /** The counts of an answer nothing was evaluated for: a full hit. */
    private static final Answer NOTHING_EVALUATED = new Answer(List.of(), 0, 0, 0);

    private final EmbeddingShape shape;
    private final EmbeddingShape.Request request;
    private final String spelledModel;
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

    private CachePlan(EmbeddingShape shape, EmbeddingShape.Request request, String spelledModel, List<String> keys,
                      long maxEntryBytes) {
        this.shape = shape;
        this.request = request;
        this.spelledModel = spelledModel;
        this.keys = keys;
        this.lookupKeys = List.copyOf(new LinkedHashSet<>(keys));
        this.maxEntryBytes = maxEntryBytes;
        this.vectors = new byte[keys.size()][];
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
        EmbeddingShape shape = EmbeddingShape.of(path);
        if (shape == null || canonicalModel == null) {
            return null;
        }
        EmbeddingShape.Request request = shape.readRequest(requestBody);
        if (request == null) {
            return null;
        }
        List<String> keys = CacheKeys.of(keyPrefix, partitionClient, shape, canonicalModel, request.params(),
                request.items());
        return keys == null ? null : new CachePlan(shape, request, spelledModel, keys, maxEntryBytes);
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
            byte[] vector = CacheValues.decode(value, maxEntryBytes);
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
        List<String> texts = new ArrayList<>(missing.size());
        for (int i : missing) {
            texts.add(request.items().get(i));
        }
        return shape.writeRequest(request, texts);
    }

    // ---------------------------------------------------------------- the upstream's answer

    /** What an upstream answer held: the vectors in answer order, and the counts to report. */
    public record Answer(List<byte[]> vectors, long totalDuration, long loadDuration, long promptTokens) {
    }

    /** Reads an upstream 200 answer of this endpoint; throws when it is not of the expected shape. */
    public Answer parse(byte[] upstream) throws IOException {
        return shape.readAnswer(upstream);
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
                byte[] value = vector == null ? null : CacheValues.encode(vector, maxEntryBytes);
                if (value != null) {
                    // Items with the same text share a key: stored once.
                    store.putIfAbsent(keys.get(i), value);
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
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) answerBytes());
        shape.writeAnswer(out, spelledModel, vectors, answer == null ? NOTHING_EVALUATED : answer);
        return out.toByteArray();
    }
}
