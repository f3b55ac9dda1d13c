package dev.oqp.queue.cache;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.oqp.common.proxy.ErrorResponses;

/**
 * The three embedding endpoints, each with its own request and answer shape. A constant knows which field
 * holds its input and which fields never change the vectors, which inputs it caches, how to read the
 * vectors out of an upstream answer, and how to write a request body and an answer in its shape.
 *
 * <p>Contract: a request is read for caching only when it is one JSON object in which no field appears twice
 * (at any depth; top-level names also under case folding, as Ollama's decoder matches them) and whose input
 * is a non-empty string or, where the endpoint takes batches, a non-empty array of at most
 * {@value CachePlan#MAX_ITEMS} non-empty strings. An answer is written from the vectors' raw bytes, never
 * re-encoded, so that a cached answer is the upstream's byte for byte.
 */
enum EmbeddingShape {
    /** Ollama's {@code /api/embed}: batches, normalised vectors, durations and a prompt count in the answer. */
    EMBED("/api/embed", "EMBED", "input", true, Set.of("model", "keep_alive")) {
        @Override
        boolean readAnswerField(String name, JsonToken value, JsonParser p, AnswerReading reading) throws IOException {
            if (name.equals("embeddings") && value == JsonToken.START_ARRAY) {
                while (p.nextToken() == JsonToken.START_ARRAY) {
                    reading.vectors.add(slice(reading.source, p));
                }
                return true;
            }
            if (name.equals("total_duration")) {
                reading.totalDuration = p.getValueAsLong();
            } else if (name.equals("load_duration")) {
                reading.loadDuration = p.getValueAsLong();
            } else if (name.equals("prompt_eval_count")) {
                reading.promptTokens = p.getValueAsLong();
            }
            return false;
        }

        @Override
        void writeAnswer(ByteArrayOutputStream out, String spelledModel, byte[][] vectors, CachePlan.Answer counts) {
            write(out, "{\"model\":" + ErrorResponses.quote(spelledModel) + ",\"embeddings\":[");
            for (int i = 0; i < vectors.length; i++) {
                if (i > 0) {
                    out.write(',');
                }
                out.writeBytes(vectors[i]);
            }
            write(out, "],\"total_duration\":" + counts.totalDuration() + ",\"load_duration\":" + counts.loadDuration()
                    + ",\"prompt_eval_count\":" + counts.promptTokens() + "}");
        }
    },

    /** Ollama's older {@code /api/embeddings}: one {@code prompt}, vectors not normalised, nothing counted. */
    LEGACY("/api/embeddings", "LEGACY", "prompt", false, Set.of("model", "keep_alive")) {
        @Override
        boolean readAnswerField(String name, JsonToken value, JsonParser p, AnswerReading reading) throws IOException {
            if (name.equals("embedding") && value == JsonToken.START_ARRAY) {
                reading.vectors.add(slice(reading.source, p));
                return true;
            }
            return false;
        }

        @Override
        void writeAnswer(ByteArrayOutputStream out, String spelledModel, byte[][] vectors, CachePlan.Answer counts) {
            write(out, "{\"embedding\":");
            out.writeBytes(vectors[0]);
            out.write('}');
        }
    },

    /**
     * OpenAI's {@code /v1/embeddings}: batches, vectors as arrays or base64 strings, each item with its index;
     * {@code user} only names the caller.
     */
    OPENAI("/v1/embeddings", "OPENAI", "input", true, Set.of("model", "keep_alive", "user")) {
        @Override
        boolean readAnswerField(String name, JsonToken value, JsonParser p, AnswerReading reading) throws IOException {
            if (name.equals("data") && value == JsonToken.START_ARRAY) {
                int position = 0;
                while (p.nextToken() == JsonToken.START_OBJECT) {
                    byte[] vector = null;
                    int index = position++;
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String field = p.currentName();
                        JsonToken t = p.nextToken();
                        if (field.equals("embedding") && t == JsonToken.START_ARRAY) {
                            vector = slice(reading.source, p);
                        } else if (field.equals("embedding") && t == JsonToken.VALUE_STRING) {
                            vector = ErrorResponses.quote(p.getText()).getBytes(StandardCharsets.UTF_8);
                        } else if (field.equals("index") && t == JsonToken.VALUE_NUMBER_INT) {
                            index = p.getIntValue();
                        } else {
                            p.skipChildren();
                        }
                    }
                    if (vector == null || reading.byIndex.put(index, vector) != null) {
                        throw new IOException("upstream answer has an item without an embedding, or twice");
                    }
                }
                return true;
            }
            if (name.equals("usage") && value == JsonToken.START_OBJECT) {
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String field = p.currentName();
                    p.nextToken();
                    if (field.equals("prompt_tokens")) {
                        reading.promptTokens = p.getValueAsLong();
                    } else {
                        p.skipChildren();
                    }
                }
                return true;
            }
            return false;
        }

        /** Items may come in any order; the answer is theirs by index, which must be exactly 0..n-1. */
        @Override
        void finishAnswer(AnswerReading reading) throws IOException {
            int expected = 0;
            for (Map.Entry<Integer, byte[]> e : reading.byIndex.entrySet()) {
                if (e.getKey() != expected++) {
                    throw new IOException("upstream answer's indexes are not 0..n-1");
                }
                reading.vectors.add(e.getValue());
            }
        }

        @Override
        void writeAnswer(ByteArrayOutputStream out, String spelledModel, byte[][] vectors, CachePlan.Answer counts) {
            write(out, "{\"object\":\"list\",\"data\":[");
            for (int i = 0; i < vectors.length; i++) {
                write(out, (i > 0 ? "," : "") + "{\"object\":\"embedding\",\"embedding\":");
                out.writeBytes(vectors[i]);
                write(out, ",\"index\":" + i + "}");
            }
            write(out, "],\"model\":" + ErrorResponses.quote(spelledModel) + ",\"usage\":{\"prompt_tokens\":"
                    + counts.promptTokens() + ",\"total_tokens\":" + counts.promptTokens() + "}}");
        }
    };

    private static final ObjectMapper JSON = JsonMapper.builder()
            // Go's decoder merges a repeated object and keeps the last scalar; a tree keeps only the last of
            // each: two bodies Ollama reads differently could then share a key. Repeats are not cacheable.
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();
    private static final JsonFactory FACTORY = new JsonFactory();

    private final String path;
    private final String keyTag;
    private final String inputField;
    private final boolean batches;
    private final Set<String> ignored;

    /**
     * @param path       the endpoint's request path
     * @param keyTag     this shape's part of every cache key: the constant's name, spelled out because entries
     *                   already stored were written under it, so that renaming a constant changes no key
     * @param inputField the input's field name, lower case
     * @param batches    whether the input may be an array of texts
     * @param ignored    fields (lower case) that never change the vectors, so never split a key
     */
    EmbeddingShape(String path, String keyTag, String inputField, boolean batches, Set<String> ignored) {
        this.path = path;
        this.keyTag = keyTag;
        this.inputField = inputField;
        this.batches = batches;
        this.ignored = ignored;
    }

    /** The shape of the endpoint at {@code path}, or null when it is not an embedding endpoint. */
    static EmbeddingShape of(String path) {
        for (EmbeddingShape shape : values()) {
            if (shape.path.equals(path)) {
                return shape;
            }
        }
        return null;
    }

    /** This shape's part of every cache key (see {@link CacheKeys}). */
    String keyTag() {
        return keyTag;
    }

    /**
     * A request body as read for caching.
     *
     * @param body       the whole body
     * @param inputField the input's field name as the client spelled it
     * @param items      the input's texts, in order
     * @param params     the fields that may change the vectors (all but the model, the input and the ignored
     *                   ones), names folded to lower case, as one JSON object
     */
    record Request(ObjectNode body, String inputField, List<String> items, JsonNode params) {
    }

    /** The body read for caching, or null when it is not cacheable (see the class comment). */
    Request readRequest(byte[] requestBody) {
        JsonNode tree;
        try {
            tree = JSON.readTree(requestBody);
        } catch (IOException e) {
            return null;
        }
        if (!(tree instanceof ObjectNode body)) {
            return null;
        }
        TreeMap<String, JsonNode> params = new TreeMap<>();
        Set<String> seen = new HashSet<>();
        String spelledInput = null;
        JsonNode input = null;
        for (Map.Entry<String, JsonNode> field : body.properties()) {
            String folded = field.getKey().toLowerCase(Locale.ROOT);
            if (!seen.add(folded)) {
                return null;
            }
            if (folded.equals(inputField)) {
                spelledInput = field.getKey();
                input = field.getValue();
            } else if (!ignored.contains(folded)) {
                params.put(folded, field.getValue());
            }
        }
        List<String> items = items(input);
        if (items == null) {
            return null;
        }
        // Converted through the mapper, as keys already stored were derived from this form.
        return new Request(body, spelledInput, List.copyOf(items), JSON.valueToTree(params));
    }

    /** The texts of {@code input} (null: absent), or null when this shape does not cache that input. */
    List<String> items(JsonNode input) {
        if (input == null) {
            return null;
        }
        if (input.isTextual()) {
            return input.asText().isEmpty() ? null : List.of(input.asText());
        }
        if (!batches || !input.isArray() || input.isEmpty() || input.size() > CachePlan.MAX_ITEMS) {
            return null;
        }
        List<String> out = new ArrayList<>(input.size());
        for (JsonNode item : input) {
            if (!item.isTextual() || item.asText().isEmpty()) {
                return null;
            }
            out.add(item.asText());
        }
        return out;
    }

    /** The request's body with its input replaced by {@code texts}, every other field as it was. */
    byte[] writeRequest(Request request, List<String> texts) {
        ObjectNode partial = request.body().deepCopy();
        ArrayNode input = partial.putArray(request.inputField());
        for (String text : texts) {
            input.add(text);
        }
        try {
            return JSON.writeValueAsBytes(partial);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads an upstream 200 answer of this shape; throws when it is not of the expected shape. */
    CachePlan.Answer readAnswer(byte[] upstream) throws IOException {
        AnswerReading reading = new AnswerReading(upstream);
        try (JsonParser p = FACTORY.createParser(upstream)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException("upstream answer is not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                if (!readAnswerField(name, value, p, reading)) {
                    p.skipChildren();
                }
            }
        } catch (JacksonException e) {
            throw new IOException("upstream answer is not valid JSON", e);
        }
        finishAnswer(reading);
        return new CachePlan.Answer(reading.vectors, reading.totalDuration, reading.loadDuration, reading.promptTokens);
    }

    /**
     * Takes the top-level field {@code name} of an answer, the parser at its {@code value}. Returns true when
     * it consumed the whole value, false to have it skipped.
     */
    abstract boolean readAnswerField(String name, JsonToken value, JsonParser p, AnswerReading reading)
            throws IOException;

    /** Completes what was read once the answer has ended. */
    void finishAnswer(AnswerReading reading) throws IOException {
    }

    /**
     * Writes the answer for {@code vectors} (raw, in the request's order), echoing the model as the client
     * spelled it, with the counts (durations, tokens) of {@code counts}.
     */
    abstract void writeAnswer(ByteArrayOutputStream out, String spelledModel, byte[][] vectors, CachePlan.Answer counts);

    /** What has been read of one upstream answer so far. */
    static final class AnswerReading {
        final byte[] source;
        final List<byte[]> vectors = new ArrayList<>();
        /** OpenAI's items by their index. */
        final Map<Integer, byte[]> byIndex = new TreeMap<>();
        long totalDuration;
        long loadDuration;
        long promptTokens;

        AnswerReading(byte[] source) {
            this.source = source;
        }
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

    private static void write(ByteArrayOutputStream out, String ascii) {
        out.writeBytes(ascii.getBytes(StandardCharsets.UTF_8));
    }
}
