package dev.oqp.queue.server;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.oqp.common.config.KeepAliveConfig;
import dev.oqp.common.proxy.ErrorResponses;
import dev.oqp.queue.routing.ModelNames;

/**
 * What the queue proxy needs from an inference request body (pipeline step 5), read once with a
 * streaming parser that only looks at top-level fields: the model as the client wrote it (never
 * rewritten), its canonical form for routing, whether the answer streams, and where {@code keep_alive}
 * stands. A body that is empty or not a JSON object is a 400 with Ollama's messages.
 *
 * @param model           the {@code model} field as sent, or null when absent or not a string
 * @param canonicalModel  {@link ModelNames#normalise} of it, or null
 * @param stream          whether the response streams: the {@code stream} field, else the endpoint's
 *                        default (native generate and chat stream, {@code /v1} and embeddings do not)
 * @param hasKeepAlive    whether the body sets {@code keep_alive} to a value (not {@code null})
 * @param keepAliveNull   whether the body has {@code "keep_alive": null}, which Ollama reads as "use the default"
 */
public record InferenceBody(String model, String canonicalModel, boolean stream, boolean hasKeepAlive,
                            boolean keepAliveNull) {
    private static final JsonFactory JSON = new JsonFactory();

    /** A request body the proxy refuses with 400 before queueing; the message is Ollama's where it has one. */
    public static final class BadBody extends Exception {
        public BadBody(String message) {
            super(message, null, false, false);
        }
    }

    /** Reads the top-level fields of {@code body} sent to {@code path}. */
    public static InferenceBody parse(String path, byte[] body) throws BadBody {
        if (body.length == 0) {
            throw new BadBody("missing request body");
        }
        String model = null;
        Boolean stream = null;
        boolean keepAlive = false;
        boolean keepAliveNull = false;
        try (JsonParser parser = JSON.createParser(body)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                throw new BadBody("request body must be a JSON object");
            }
            JsonToken token;
            int models = 0;
            while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
                String name = goKey(parser.currentName());
                JsonToken value = parser.nextToken();
                switch (name) {
                    case "model" -> {
                        if (++models > 1) {
                            // Ollama would take the last one while the allow-list checked another.
                            throw new BadBody("more than one model field in request body");
                        }
                        model = value == JsonToken.VALUE_STRING ? parser.getText() : null;
                    }
                    case "stream" -> stream = value == JsonToken.VALUE_TRUE ? Boolean.TRUE
                            : value == JsonToken.VALUE_FALSE ? Boolean.FALSE : null;
                    case "keep_alive" -> {
                        keepAlive = value != JsonToken.VALUE_NULL;
                        keepAliveNull = value == JsonToken.VALUE_NULL;
                    }
                    default -> {
                    }
                }
                parser.skipChildren();
            }
            if (token != JsonToken.END_OBJECT || parser.nextToken() != null) {
                throw new BadBody("request body must be a single JSON object");
            }
        } catch (IOException e) {
            throw new BadBody("invalid JSON in request body");
        }
        if (model != null && !validModelName(model)) {
            throw new BadBody("invalid model name");
        }
        return new InferenceBody(model, ModelNames.normalise(model),
                stream != null ? stream : streamsByDefault(path), keepAlive, keepAliveNull);
    }

    /** The longest model name accepted; Ollama's own names are far shorter. */
    static final int MAX_MODEL_NAME_LENGTH = 256;

    /**
     * A top-level key as Ollama's Go decoder matches it against its fields: ignoring case, with the Kelvin sign
     * and the long s folding to {@code k} and {@code s} ({@code strings.EqualFold}). Only ASCII field names
     * matter here, so anything else is returned as it is and matches none.
     */
    static String goKey(String name) {
        StringBuilder folded = null;
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            char f = c == '\u212A' ? 'k' : c == '\u017F' ? 's' : (c >= 'A' && c <= 'Z') ? (char) (c + 32) : c;
            if (f != c && folded == null) {
                folded = new StringBuilder(name.substring(0, i));
            }
            if (folded != null) {
                folded.append(f);
            }
        }
        return folded == null ? name : folded.toString();
    }

    /** Not empty, at most {@value #MAX_MODEL_NAME_LENGTH} characters, no control characters or spaces. */
    static boolean validModelName(String model) {
        if (model.isEmpty() || model.length() > MAX_MODEL_NAME_LENGTH) {
            return false;
        }
        for (int i = 0; i < model.length(); i++) {
            char c = model.charAt(i);
            if (c <= 0x20 || c == 0x7f) {
                return false;
            }
        }
        return true;
    }

    /** Native generate and chat stream unless told otherwise; {@code /v1} and embeddings do not. */
    static boolean streamsByDefault(String path) {
        return "/api/generate".equals(path) || "/api/chat".equals(path);
    }

    /** True for the native endpoints that accept {@code keep_alive} ({@code /v1} ignores it). */
    public static boolean acceptsKeepAlive(String path) {
        return "/api/generate".equals(path) || "/api/chat".equals(path) || "/api/embed".equals(path)
                || "/api/embeddings".equals(path);
    }

    /**
     * {@code body} with the configured {@code keep_alive} applied, spliced in as bytes (the rest of the
     * body is never re-serialised): added after the opening brace when the body has none, and appended
     * as the last field — the one Ollama's Go decoder keeps when a key appears twice — with
     * {@code override}, or when the body says {@code "keep_alive": null} (Ollama's "use the default",
     * so the configured default is what it gets). Returns {@code body} itself when nothing applies.
     */
    public byte[] withKeepAlive(String path, byte[] body, KeepAliveConfig config) {
        if (!config.enabled() || !acceptsKeepAlive(path) || (hasKeepAlive && !config.override())) {
            return body;
        }
        Object value = config.jsonValue();
        String json = value instanceof Long ? value.toString() : ErrorResponses.quote(value.toString());
        if (!hasKeepAlive && !keepAliveNull) {
            int open = indexOf(body, (byte) '{', 0);
            int next = firstNonSpace(body, open + 1);
            boolean empty = next < body.length && body[next] == '}';
            byte[] field = ("\"keep_alive\":" + json + (empty ? "" : ",")).getBytes(StandardCharsets.UTF_8);
            return splice(body, open + 1, field);
        }
        int close = lastIndexOf(body, (byte) '}');
        byte[] field = (",\"keep_alive\":" + json).getBytes(StandardCharsets.UTF_8);
        return splice(body, close, field);
    }

    /**
     * {@code body} (a JSON object) with {@code "keep_alive": -1} appended as its last field, the one Ollama's Go
     * decoder keeps when a key appears twice: whatever the client or the configured default set, a model pinned on
     * the host it goes to stays resident ({@code ollama.hosts[].models.NAME.pin}).
     */
    public static byte[] withPinnedKeepAlive(byte[] body) {
        int open = indexOf(body, (byte) '{', 0);
        int close = lastIndexOf(body, (byte) '}');
        if (open < 0 || close < open) {
            return body;
        }
        boolean empty = firstNonSpace(body, open + 1) == close;
        return splice(body, close, ((empty ? "" : ",") + "\"keep_alive\":-1").getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] splice(byte[] body, int at, byte[] insert) {
        byte[] out = new byte[body.length + insert.length];
        System.arraycopy(body, 0, out, 0, at);
        System.arraycopy(insert, 0, out, at, insert.length);
        System.arraycopy(body, at, out, at + insert.length, body.length - at);
        return out;
    }

    private static int indexOf(byte[] bytes, byte b, int from) {
        for (int i = from; i < bytes.length; i++) {
            if (bytes[i] == b) {
                return i;
            }
        }
        return -1;
    }

    private static int lastIndexOf(byte[] bytes, byte b) {
        for (int i = bytes.length - 1; i >= 0; i--) {
            if (bytes[i] == b) {
                return i;
            }
        }
        return -1;
    }

    private static int firstNonSpace(byte[] bytes, int from) {
        int i = from;
        while (i < bytes.length && (bytes[i] == ' ' || bytes[i] == '\t' || bytes[i] == '\n' || bytes[i] == '\r')) {
            i++;
        }
        return i;
    }
}
