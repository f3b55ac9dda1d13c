package dev.oqp.common.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

class ExchangeTest {
    @Test
    void followsWhetherTheBodySentEndsALineOrAnEventAcrossChunks() {
        Exchange exchange = new Exchange("POST", "/v1/chat/completions", 0);
        assertThat(exchange.endsWithBlankLine()).as("nothing sent").isTrue();

        sent(exchange, "data: {\"n\":1}\n");
        assertThat(exchange.endsWithNewline()).isTrue();
        assertThat(exchange.endsWithBlankLine()).isFalse();

        sent(exchange, "\n");
        assertThat(exchange.endsWithBlankLine()).as("an event's blank line split over two chunks").isTrue();

        sent(exchange, "data: {\"n\"");
        assertThat(exchange.endsWithNewline()).isFalse();
        assertThat(exchange.endsWithBlankLine()).isFalse();

        sent(exchange, ":2}\r\n\r\n");
        assertThat(exchange.endsWithBlankLine()).isTrue();
    }

    private static void sent(Exchange exchange, String chunk) {
        ByteBuffer content = ByteBuffer.wrap(chunk.getBytes(StandardCharsets.UTF_8));
        exchange.contentEnds(content);
        assertThat(content.remaining()).as("not consumed").isEqualTo(chunk.length());
    }
}
