package dev.oqp.common.testing;

import java.nio.charset.StandardCharsets;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Compact JSON like Go's encoding/json: no spaces, and {@code < > &} escaped as {@code \u003c} etc. */
final class Json {

    static final ObjectMapper MAPPER = new ObjectMapper();

    private static final CharacterEscapes GO_ESCAPES = new CharacterEscapes() {
        private final int[] escapes;

        {
            escapes = standardAsciiEscapesForJSON();
            escapes['<'] = ESCAPE_STANDARD;
            escapes['>'] = ESCAPE_STANDARD;
            escapes['&'] = ESCAPE_STANDARD;
        }

        @Override
        public int[] getEscapeCodesForAscii() {
            return escapes;
        }

        @Override
        public SerializableString getEscapeSequence(int ch) {
            return null;
        }
    };

    private Json() {
    }

    static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    static ArrayNode array() {
        return MAPPER.createArrayNode();
    }

    static String string(Object node) {
        try {
            return MAPPER.writer().with(GO_ESCAPES).writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] bytes(Object node) {
        return string(node).getBytes(StandardCharsets.UTF_8);
    }

    static byte[] line(Object node) {
        return (string(node) + "\n").getBytes(StandardCharsets.UTF_8);
    }

    static byte[] event(Object node) {
        return ("data: " + string(node) + "\n\n").getBytes(StandardCharsets.UTF_8);
    }

    static String text(JsonNode body, String field) {
        JsonNode value = body.get(field);
        return value == null || value.isNull() ? "" : value.asText();
    }
}
