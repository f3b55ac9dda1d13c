package dev.oqp.common.proxy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;

/**
 * Errors of a response committed early ({@link Exchange#committedEarly()}): its status and headers went out before
 * the upstream answered, so an upstream error status or a failure is reported as the body's last frame, in the
 * shape of the route's own stream ({@link ErrorResponses#inBandError}), and the stream ends cleanly.
 */
final class InBandErrors {
    /** The largest upstream error body read for its message; a larger one is cut and reported as a broken answer. */
    private static final long MAX_ERROR_BODY = 64 << 10;
    /** Characters of an upstream's error message passed on. */
    private static final int MAX_MESSAGE = 1000;
    private static final ObjectMapper JSON = new ObjectMapper();

    private InBandErrors() {
    }

    /**
     * The error frame for {@code status} and {@code message}, after the line ends the body so far lacks (an upstream
     * that broke mid-line or mid-event), so that the error is a line or an event of its own; records
     * {@code status} as the exchange's.
     */
    static ByteBuffer frame(Request clientToProxyRequest, Response proxyToClientResponse, Exchange exchange,
                            int status, String message, String code) {
        return frame(clientToProxyRequest, proxyToClientResponse, exchange, status, message, code, true);
    }

    /** @param afterRelayed the upstream's body so far was relayed (false: it was collected, never sent) */
    private static ByteBuffer frame(Request clientToProxyRequest, Response proxyToClientResponse, Exchange exchange,
                                    int status, String message, String code, boolean afterRelayed) {
        boolean eventStream = eventStream(proxyToClientResponse);
        byte[] frame = ErrorResponses.inBandError(clientToProxyRequest.getHttpURI().getPath(), eventStream, status,
                message, code);
        int missing = !afterRelayed ? 0
                : eventStream ? (exchange.endsWithBlankLine() ? 0 : exchange.endsWithNewline() ? 1 : 2)
                : (exchange.endsWithNewline() ? 0 : 1);
        ByteBuffer tail = ByteBuffer.allocate(missing + frame.length);
        for (int i = 0; i < missing; i++) {
            tail.put((byte) '\n');
        }
        exchange.inBandStatus(status);
        return tail.put(frame).flip();
    }

    /** Replaces the upstream's error answer ({@code upstreamStatus}, not 2xx) with the error frame. */
    static ResponseRewriter rewriter(Request clientToProxyRequest, Response proxyToClientResponse, Exchange exchange,
                                     int upstreamStatus) {
        return new ResponseRewriter() {
            @Override
            public long maxBytes() {
                return MAX_ERROR_BODY;
            }

            @Override
            public byte[] rewrite(byte[] serverToProxyBody) {
                ByteBuffer frame = frame(clientToProxyRequest, proxyToClientResponse, exchange, upstreamStatus,
                        message(serverToProxyBody, upstreamStatus), "upstream_" + upstreamStatus, false);
                byte[] out = new byte[frame.remaining()];
                frame.get(out);
                return out;
            }
        };
    }

    /**
     * The message of an upstream's error body: Ollama's {@code {"error":"…"}}, OpenAI's
     * {@code {"error":{"message":"…"}}} or Anthropic's {@code {"error":{"type":…,"message":"…"}}}; else the status.
     */
    static String message(byte[] body, int status) {
        String message = null;
        try {
            JsonNode error = JSON.readTree(body).path("error");
            if (error.isTextual()) {
                message = error.asText();
            } else if (error.path("message").isTextual()) {
                message = error.path("message").asText();
            }
        } catch (IOException | RuntimeException notJson) {
            // Not JSON (a plain-text 404 of an older Ollama): the status says enough.
        }
        if (message == null || message.isBlank()) {
            String text = new String(body, StandardCharsets.UTF_8).strip();
            message = "upstream answered " + status + (text.isEmpty() ? "" : ": " + text);
        }
        return message.length() <= MAX_MESSAGE ? message : message.substring(0, MAX_MESSAGE) + "…";
    }

    private static boolean eventStream(Response proxyToClientResponse) {
        String contentType = proxyToClientResponse.getHeaders().get(HttpHeader.CONTENT_TYPE);
        return contentType != null && contentType.regionMatches(true, 0, "text/event-stream", 0, 17);
    }
}
