package dev.oqp.queue.metrics;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.async.ByteBufferFeeder;

/**
 * Reads the token counts an upstream reports while its response streams past, without buffering it:
 * Ollama's {@code prompt_eval_count} and {@code eval_count} (on the final NDJSON line, or the single
 * object of a non-streamed answer) and OpenAI's {@code usage.prompt_tokens} and
 * {@code usage.completion_tokens} (in a JSON answer or in the SSE stream's usage chunk), and the
 * {@code input_tokens} and {@code output_tokens} of the Responses and Anthropic Messages APIs (top-level
 * {@code usage}, or {@code response.usage} and {@code message.usage} in their stream events).
 *
 * <p>Every chunk is fed to Jackson's non-blocking parser as it passes, so memory stays constant
 * whatever the response's size. For {@code text/event-stream} the SSE framing is stripped on the fly:
 * only the payload of {@code data:} lines reaches the parser, {@code [DONE]} and other fields are
 * skipped. The last value seen wins. Input that is not valid JSON stops the scan quietly (counts stay
 * as found so far): a scanner must never disturb the stream it watches. One instance per response,
 * used by one thread at a time.
 */
public final class UsageScanner {
    private static final JsonFactory JSON = new JsonFactory();

    private final boolean sse;
    /** NDJSON or SSE: one JSON object per token (Ollama streams a token per line or chunk). */
    private final boolean streamed;
    /** Top-level JSON objects read completely (lines of an NDJSON stream, data payloads of an SSE stream). */
    private long objects;
    private final JsonParser parser;
    private final ByteBufferFeeder feeder;
    private boolean broken;
    private int depth;
    private String field;
    private boolean inUsage;
    private int usageDepth;
    /** The top-level field whose value is the object or array open at depth 2. */
    private String topField;
    private long promptTokens = -1;
    private long completionTokens = -1;

    // SSE line state
    private boolean lineStart = true;
    private boolean skipLine;
    private int prefixMatched;
    private boolean inData;
    private static final byte[] DATA = "data:".getBytes(StandardCharsets.US_ASCII);

    /**
     * @param contentType the response's {@code Content-Type}; {@code text/event-stream} selects SSE framing
     */
    public UsageScanner(String contentType) {
        this.sse = contentType != null && contentType.regionMatches(true, 0, "text/event-stream", 0, 17);
        this.streamed = sse || contentType != null && contentType.regionMatches(true, 0, "application/x-ndjson", 0, 20);
        JsonParser p;
        try {
            p = JSON.createNonBlockingByteBufferParser();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        this.parser = p;
        this.feeder = (ByteBufferFeeder) p.getNonBlockingInputFeeder();
    }

    /** Prompt tokens reported, or -1 when none was seen. */
    public long promptTokens() {
        return promptTokens;
    }

    /** Completion tokens reported, or -1 when none was seen. */
    public long completionTokens() {
        return completionTokens;
    }

    /**
     * The completion tokens to charge the client: the count reported, for a response that {@code ended} as the
     * host sent it; for a stream the host did not report a count in (an OpenAI stream without
     * {@code stream_options.include_usage}) or that was cut before its end (the client left, the host broke
     * or timed out), at least one per JSON object streamed, since Ollama streams a token per line or chunk.
     * A client cannot avoid its token limits by leaving a stream just before its last line.
     */
    public long chargedCompletionTokens(boolean ended) {
        long reported = Math.max(0, completionTokens);
        if (!streamed || ended && completionTokens >= 0) {
            return reported;
        }
        return Math.max(reported, objects);
    }

    /** Reads {@code chunk} (a view: its position is not changed). */
    public void accept(ByteBuffer chunk) {
        if (broken || !chunk.hasRemaining()) {
            return;
        }
        ByteBuffer view = chunk.duplicate();
        if (sse) {
            acceptSse(view);
        } else {
            feed(view);
        }
    }

    private void acceptSse(ByteBuffer view) {
        int payloadStart = -1;
        while (view.hasRemaining() && !broken) {
            int at = view.position();
            byte b = view.get();
            if (b == '\n') {
                if (payloadStart >= 0) {
                    feed(view.duplicate().position(payloadStart).limit(at));
                    payloadStart = -1;
                }
                if (inData) {
                    feed(ByteBuffer.wrap(new byte[] {'\n'}));
                }
                lineStart = true;
                skipLine = false;
                inData = false;
                prefixMatched = 0;
                continue;
            }
            if (skipLine) {
                continue;
            }
            if (inData) {
                if (payloadStart < 0) {
                    payloadStart = at;
                }
                continue;
            }
            if (lineStart || prefixMatched > 0) {
                lineStart = false;
                if (prefixMatched < DATA.length && b == DATA[prefixMatched]) {
                    prefixMatched++;
                    if (prefixMatched == DATA.length) {
                        inData = true;
                    }
                } else if (b != '\r') {
                    skipLine = true;
                }
            }
        }
        if (payloadStart >= 0 && !broken) {
            feed(view.duplicate().position(payloadStart).limit(view.position()));
        }
    }

    private void feed(ByteBuffer bytes) {
        if (!bytes.hasRemaining()) {
            return;
        }
        if (sse && isDoneMarker(bytes)) {
            return;
        }
        try {
            feeder.feedInput(bytes);
            JsonToken token;
            while ((token = parser.nextToken()) != null && token != JsonToken.NOT_AVAILABLE) {
                observe(token);
            }
        } catch (IOException | RuntimeException e) {
            broken = true;
        }
    }

    private static boolean isDoneMarker(ByteBuffer bytes) {
        ByteBuffer b = bytes.duplicate();
        while (b.hasRemaining() && b.get(b.position()) == ' ') {
            b.get();
        }
        byte[] done = {'[', 'D', 'O', 'N', 'E', ']'};
        if (b.remaining() < done.length) {
            return false;
        }
        for (byte d : done) {
            if (b.get() != d) {
                return false;
            }
        }
        return true;
    }

    private void observe(JsonToken token) throws IOException {
        switch (token) {
            case START_OBJECT, START_ARRAY -> {
                depth++;
                if (depth == 2) {
                    topField = field;
                }
                // usage at the top (OpenAI, Anthropic, Responses) or in the top's response / message (the
                // Responses API's response.completed event, Anthropic's message_start event).
                if (token == JsonToken.START_OBJECT && "usage".equals(field) && (depth == 2
                        || depth == 3 && ("response".equals(topField) || "message".equals(topField)))) {
                    inUsage = true;
                    usageDepth = depth;
                }
                field = null;
            }
            case END_OBJECT, END_ARRAY -> {
                if (inUsage && depth == usageDepth) {
                    inUsage = false;
                }
                depth--;
                if (depth == 0 && token == JsonToken.END_OBJECT) {
                    objects++;
                }
                field = null;
            }
            case FIELD_NAME -> field = parser.currentName();
            case VALUE_NUMBER_INT -> {
                if (depth == 1 && "prompt_eval_count".equals(field)) {
                    promptTokens = parser.getLongValue();
                } else if (depth == 1 && "eval_count".equals(field)) {
                    completionTokens = parser.getLongValue();
                } else if (inUsage && depth == usageDepth
                        && ("prompt_tokens".equals(field) || "input_tokens".equals(field))) {
                    promptTokens = parser.getLongValue();
                } else if (inUsage && depth == usageDepth
                        && ("completion_tokens".equals(field) || "output_tokens".equals(field))) {
                    completionTokens = parser.getLongValue();
                }
                field = null;
            }
            default -> field = null;
        }
    }
}
