package dev.oqp.common.testing;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;

/**
 * What a route answers, before timing and faults are applied by {@link Exchange}. Lines are produced
 * lazily so that timestamps and durations reflect when they are written.
 *
 * @param status        HTTP status
 * @param contentType   Content-Type, or null for none
 * @param lines         body lines (each already framed: NDJSON lines end in a newline, SSE events in a blank line)
 * @param streamed      true for NDJSON/SSE streams: the token delay separates lines
 * @param format        how a mid-stream error is expressed
 * @param slotModel     canonical model name whose parallelism slot this reply needs, or null
 * @param workDelay     time spent before the headers (generation time of a non-streamed inference)
 * @param onComplete    run when the whole response was written, or null
 */
record Reply(int status, String contentType, List<Supplier<byte[]>> lines, boolean streamed, Format format,
             String slotModel, Duration workDelay, Runnable onComplete) {

    enum Format { PLAIN, NATIVE, OPENAI }

    static final String JSON = "application/json; charset=utf-8";
    static final String NDJSON = "application/x-ndjson";
    static final String SSE = "text/event-stream";
    static final String TEXT = "text/plain; charset=utf-8";

    static Reply text(int status, String text) {
        return new Reply(status, TEXT, List.of(() -> text.getBytes(StandardCharsets.UTF_8)), false,
                Format.PLAIN, null, Duration.ZERO, null);
    }

    static Reply empty(int status) {
        return new Reply(status, null, List.of(), false, Format.PLAIN, null, Duration.ZERO, null);
    }

    static Reply json(int status, Object node) {
        return new Reply(status, JSON, List.of(() -> Json.bytes(node)), false, Format.NATIVE, null, Duration.ZERO, null);
    }

    static Reply error(int status, String message) {
        return json(status, Json.object().put("error", message));
    }

    static Reply openAiError(int status, String message) {
        String type = status == 400 ? "invalid_request_error" : status == 404 ? "not_found_error" : "api_error";
        var error = Json.object().put("message", message).put("type", type).putNull("param").putNull("code");
        var body = Json.object();
        body.set("error", error);
        Reply reply = json(status, body);
        return reply.with(Format.OPENAI);
    }

    Reply with(Format newFormat) {
        return new Reply(status, contentType, lines, streamed, newFormat, slotModel, workDelay, onComplete);
    }

    Reply inference(String model, Duration delay, Runnable completion) {
        return new Reply(status, contentType, lines, streamed, format, model, delay, completion);
    }
}
