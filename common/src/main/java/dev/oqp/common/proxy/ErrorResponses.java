package dev.oqp.common.proxy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * Error bodies in the shape the client of each API expects: Ollama's {@code {"error":"…"}} on
 * {@code /api/*} and {@code /}, OpenAI's {@code {"error":{"message":"…","type":"…"}}} on {@code /v1/*}.
 * Every error the proxies write themselves goes through here, so clients can always parse it.
 */
public final class ErrorResponses {
    /** The Anthropic Messages API route: its errors have Anthropic's shape inside a stream. */
    private static final String ANTHROPIC_MESSAGES = "/v1/messages";

    private ErrorResponses() {
    }

    /** Writes a complete error response; the callback completes when it is written. */
    public static void write(Request request, Response response, Callback callback, int status, String message) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
        response.write(true, ByteBuffer.wrap(body(request.getHttpURI().getPath(), status, message)), callback);
    }

    /** The error body for {@code path}, in Ollama's or OpenAI's shape. */
    public static byte[] body(String path, int status, String message) {
        String json;
        if (path != null && (path.equals("/v1") || path.startsWith("/v1/"))) {
            json = "{\"error\":{\"message\":" + quote(message) + ",\"type\":\"" + openAiType(status)
                    + "\",\"param\":null,\"code\":null}}";
        } else {
            json = "{\"error\":" + quote(message) + "}";
        }
        return json.getBytes(StandardCharsets.UTF_8);
    }

    /** One NDJSON line {@code {"error":"…"}\n}, the in-stream error every Ollama client checks for. */
    public static byte[] ndjsonErrorLine(String message) {
        return ("{\"error\":" + quote(message) + "}\n").getBytes(StandardCharsets.UTF_8);
    }

    /**
     * One SSE event {@code event: error} whose data is OpenAI's error object for {@code status}, ended by its blank
     * line: the in-stream error of an OpenAI-style stream that cannot end with a truncated frame.
     */
    static byte[] sseErrorEvent(int status, String message) {
        return ("event: error\ndata: " + new String(body("/v1", status, message), StandardCharsets.UTF_8) + "\n\n")
                .getBytes(StandardCharsets.UTF_8);
    }

    /**
     * The final frame that reports an error inside a streamed answer whose status and headers were already sent
     * (the queue proxy's early headers), in the shape the route's own clients read as an error, then the stream
     * ends:
     * <ul>
     *   <li>an NDJSON answer ({@code eventStream} false): the line {@code {"error":"…"}}, as Ollama ends a stream
     *       that failed;</li>
     *   <li>{@code /v1/messages} (Anthropic): {@code event: error} with
     *       {@code {"type":"error","error":{"type":"…","message":"…"}}};</li>
     *   <li>any other {@code /v1} route (OpenAI chat, completions, responses): an event whose data is OpenAI's
     *       error object {@code {"error":{"message":"…","type":"…","param":null,"code":…}}}.</li>
     * </ul>
     *
     * @param status the status the error would have had before the answer started (it picks the error's type)
     * @param code   a short machine-readable code for OpenAI's {@code code} field, or null
     */
    public static byte[] inBandError(String path, boolean eventStream, int status, String message, String code) {
        if (!eventStream) {
            return ndjsonErrorLine(message);
        }
        String event;
        if (ANTHROPIC_MESSAGES.equals(path)) {
            event = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"" + anthropicType(status)
                    + "\",\"message\":" + quote(message) + "}}\n\n";
        } else {
            event = "data: {\"error\":{\"message\":" + quote(message) + ",\"type\":\"" + openAiType(status)
                    + "\",\"param\":null,\"code\":" + (code == null ? "null" : quote(code)) + "}}\n\n";
        }
        return event.getBytes(StandardCharsets.UTF_8);
    }

    /** The Anthropic Messages API's error type for {@code status}. */
    static String anthropicType(int status) {
        return switch (status) {
            case 400, 422 -> "invalid_request_error";
            case 401 -> "authentication_error";
            case 403 -> "permission_error";
            case 404 -> "not_found_error";
            case 413 -> "request_too_large";
            case 429 -> "rate_limit_error";
            case 503, 529 -> "overloaded_error";
            default -> "api_error";
        };
    }

    static String openAiType(int status) {
        if (status == 400 || status == 413 || status == 422) {
            return "invalid_request_error";
        }
        if (status == 401) {
            return "authentication_error";
        }
        if (status == 403) {
            return "permission_error";
        }
        if (status == 404) {
            return "not_found_error";
        }
        if (status == 429) {
            return "rate_limit_error";
        }
        return "api_error";
    }

    /**
     * A JSON string literal: quotes, backslashes and control characters escaped, everything else as written.
     * {@code <}, {@code >}, {@code &} and {@code '} stay literal: these are JSON bodies and log lines, not HTML, and
     * a model name in angle brackets must read as such in an error or a log line, not as six-character escapes
     * (Go's encoder escapes them for HTML embedding, which nothing here does).
     */
    public static String quote(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
