package dev.oqp.common.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class ErrorResponsesTest {
    private static String body(String path, int status, String message) {
        return new String(ErrorResponses.body(path, status, message), StandardCharsets.UTF_8);
    }

    @Test
    void nativeAndRootPathsGetOllamaShape() {
        assertThat(body("/api/chat", 502, "upstream unreachable")).isEqualTo("{\"error\":\"upstream unreachable\"}");
        assertThat(body("/", 504, "upstream timed out")).isEqualTo("{\"error\":\"upstream timed out\"}");
    }

    @Test
    void openAiPathsGetOpenAiShapeWithTypeByStatus() {
        assertThat(body("/v1/chat/completions", 413, "too large")).isEqualTo(
                "{\"error\":{\"message\":\"too large\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}");
        assertThat(body("/v1/models", 404, "x")).contains("\"type\":\"not_found_error\"");
        assertThat(body("/v1/embeddings", 502, "x")).contains("\"type\":\"api_error\"");
        assertThat(body("/v1/embeddings", 429, "x")).contains("\"type\":\"rate_limit_error\"");
        assertThat(body("/v1foo", 502, "x")).isEqualTo("{\"error\":\"x\"}");
    }

    @Test
    void inBandErrorsTakeEachStreamsOwnShape() {
        assertThat(inBand("/api/chat", false, 503, "waited too long", "expired"))
                .isEqualTo("{\"error\":\"waited too long\"}\n");
        assertThat(inBand("/v1/chat/completions", true, 503, "waited too long", "expired")).isEqualTo(
                "data: {\"error\":{\"message\":\"waited too long\",\"type\":\"api_error\",\"param\":null,"
                        + "\"code\":\"expired\"}}\n\n");
        assertThat(inBand("/v1/responses", true, 404, "no \"x\"", null)).isEqualTo(
                "data: {\"error\":{\"message\":\"no \\\"x\\\"\",\"type\":\"not_found_error\",\"param\":null,"
                        + "\"code\":null}}\n\n");
        assertThat(inBand("/v1/messages", true, 503, "waited too long", "expired")).isEqualTo(
                "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                        + "\"message\":\"waited too long\"}}\n\n");
        assertThat(inBand("/v1/messages", true, 502, "x", null)).contains("\"type\":\"api_error\"");
        assertThat(inBand("/v1/messages", true, 429, "x", null)).contains("\"type\":\"rate_limit_error\"");
    }

    @Test
    void anUpstreamErrorsMessageIsTakenFromEachApisShape() {
        assertThat(InBandErrors.message("{\"error\":\"model crashed\"}".getBytes(StandardCharsets.UTF_8), 500))
                .isEqualTo("model crashed");
        assertThat(InBandErrors.message("{\"error\":{\"message\":\"bad\",\"type\":\"x\"}}"
                .getBytes(StandardCharsets.UTF_8), 400)).isEqualTo("bad");
        assertThat(InBandErrors.message("404 page not found".getBytes(StandardCharsets.UTF_8), 404))
                .isEqualTo("upstream answered 404: 404 page not found");
        assertThat(InBandErrors.message(new byte[0], 502)).isEqualTo("upstream answered 502");
    }

    private static String inBand(String path, boolean eventStream, int status, String message, String code) {
        return new String(ErrorResponses.inBandError(path, eventStream, status, message, code), StandardCharsets.UTF_8);
    }

    @Test
    void messagesKeepAngleBracketsAmpersandsAndApostrophesLiteral() {
        assertThat(ErrorResponses.quote("model <name> & 'tag'")).isEqualTo("\"model <name> & 'tag'\"");
        assertThat(body("/api/generate", 404, "model \"<x>\" not found"))
                .isEqualTo("{\"error\":\"model \\\"<x>\\\" not found\"}");
    }

    @Test
    void quotesBackslashesAndControlCharactersAreStillEscaped() throws Exception {
        String message = "a\"b\\c\n\r\t\u0001\u001f<&>'";
        String quoted = ErrorResponses.quote(message);
        assertThat(quoted).isEqualTo("\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f<&>'\"");
        // Whatever the message, the literal parses back to it.
        assertThat(new ObjectMapper().readValue(quoted, String.class)).isEqualTo(message);
    }

    @Test
    void ndjsonErrorLineIsOneLine() {
        assertThat(new String(ErrorResponses.ndjsonErrorLine("upstream timed out"), StandardCharsets.UTF_8))
                .isEqualTo("{\"error\":\"upstream timed out\"}\n");
    }

    @Test
    void sseErrorEventIsOneEventCarryingOpenAisErrorObject() {
        assertThat(new String(ErrorResponses.sseErrorEvent(502, "upstream connection failed"), StandardCharsets.UTF_8))
                .isEqualTo("event: error\ndata: {\"error\":{\"message\":\"upstream connection failed\","
                        + "\"type\":\"api_error\",\"param\":null,\"code\":null}}\n\n");
    }
}
