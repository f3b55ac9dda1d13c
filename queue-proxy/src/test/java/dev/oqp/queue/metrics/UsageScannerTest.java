package dev.oqp.queue.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

class UsageScannerTest {
    private static final String NDJSON = """
            {"model":"llama3","created_at":"2025-10-26T17:15:24Z","response":"The","done":false}
            {"model":"llama3","created_at":"2025-10-26T17:15:24Z","response":" end {\\"eval_count\\":9}","done":false}
            {"model":"llama3","created_at":"2025-10-26T17:15:25Z","response":"","done":true,"done_reason":"stop","context":[1,2,3],"total_duration":10706818083,"prompt_eval_count":26,"prompt_eval_duration":130079000,"eval_count":259,"eval_duration":4232710000}
            """;

    private static UsageScanner scanInChunksOf(String contentType, String body, int chunk) {
        UsageScanner scanner = new UsageScanner(contentType);
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < bytes.length; i += chunk) {
            ByteBuffer buffer = ByteBuffer.allocateDirect(Math.min(chunk, bytes.length - i));
            buffer.put(bytes, i, buffer.capacity()).flip();
            scanner.accept(buffer);
            assertThat(buffer.position()).isZero();
        }
        return scanner;
    }

    @Test
    void ollamaFinalLineCountsAreFoundWhateverTheChunking() {
        for (int chunk = 1; chunk <= NDJSON.length(); chunk += 7) {
            UsageScanner scanner = scanInChunksOf("application/x-ndjson", NDJSON, chunk);
            assertThat(scanner.promptTokens()).as("chunk %d", chunk).isEqualTo(26);
            assertThat(scanner.completionTokens()).as("chunk %d", chunk).isEqualTo(259);
        }
    }

    @Test
    void nonStreamedOllamaAndOpenAiBodiesAreRead() {
        UsageScanner ollama = scanInChunksOf("application/json; charset=utf-8",
                "{\"model\":\"m\",\"response\":\"long text\",\"done\":true,\"prompt_eval_count\":5,\"eval_count\":7}", 4);
        assertThat(ollama.promptTokens()).isEqualTo(5);
        assertThat(ollama.completionTokens()).isEqualTo(7);

        UsageScanner openAi = scanInChunksOf("application/json", "{\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,"
                + "\"message\":{\"role\":\"assistant\",\"content\":\"hi\"}}],\"usage\":{\"prompt_tokens\":26,"
                + "\"completion_tokens\":298,\"total_tokens\":324}}", 5);
        assertThat(openAi.promptTokens()).isEqualTo(26);
        assertThat(openAi.completionTokens()).isEqualTo(298);
    }

    @Test
    void nestedFieldsOfTheSameNameAreNotCounted() {
        UsageScanner scanner = scanInChunksOf("application/json",
                "{\"choices\":[{\"usage\":{\"prompt_tokens\":99}}],\"details\":{\"eval_count\":42}}", 3);
        assertThat(scanner.promptTokens()).isEqualTo(-1);
        assertThat(scanner.completionTokens()).isEqualTo(-1);
    }

    @Test
    void sseUsageChunkIsReadAndFramingSkipped() {
        String sse = "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":{\"prompt_tokens\":0,"
                + "\"completion_tokens\":0}}\n\n"
                + ": comment\n"
                + "event: message\n"
                + "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34,"
                + "\"total_tokens\":46}}\r\n\r\n"
                + "data: [DONE]\n\n";
        for (int chunk = 1; chunk <= sse.length(); chunk += 5) {
            UsageScanner scanner = scanInChunksOf("text/event-stream", sse, chunk);
            assertThat(scanner.promptTokens()).as("chunk %d", chunk).isEqualTo(12);
            assertThat(scanner.completionTokens()).as("chunk %d", chunk).isEqualTo(34);
        }
    }

    @Test
    void streamsWithoutUsageReportNone() {
        UsageScanner scanner = scanInChunksOf("text/event-stream",
                "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]\n\n", 8);
        assertThat(scanner.promptTokens()).isEqualTo(-1);
        assertThat(scanner.completionTokens()).isEqualTo(-1);
    }

    @Test
    void garbageStopsTheScanQuietly() {
        UsageScanner scanner = scanInChunksOf("application/x-ndjson",
                "{\"prompt_eval_count\":3}\nnot json at all {{{\n{\"eval_count\":4}\n", 6);
        assertThat(scanner.promptTokens()).isEqualTo(3);
        assertThat(scanner.completionTokens()).isEqualTo(-1);
        assertThat(scanInChunksOf("text/plain; charset=utf-8", "Ollama is running", 4).promptTokens()).isEqualTo(-1);
    }

    @Test
    void aLargeBodyIsScannedWithoutKeepingIt() {
        StringBuilder body = new StringBuilder();
        for (int i = 0; i < 20_000; i++) {
            body.append("{\"response\":\"").append("x".repeat(200)).append("\",\"done\":false}\n");
        }
        body.append("{\"done\":true,\"prompt_eval_count\":1,\"eval_count\":20000}\n");
        UsageScanner scanner = scanInChunksOf("application/x-ndjson", body.toString(), 8192);
        assertThat(scanner.completionTokens()).isEqualTo(20_000);
    }

    @Test
    void aStreamThatEndedIsChargedWhatItReportedAndACutOneALinePerTokenAtLeast() {
        String[] lines = NDJSON.split("\n");
        String cut = lines[0] + "\n" + lines[1] + "\n";
        UsageScanner whole = scanInChunksOf("application/x-ndjson", NDJSON, 11);
        assertThat(whole.chargedCompletionTokens(true)).isEqualTo(259);
        assertThat(whole.chargedCompletionTokens(false)).as("the count reported is at least the lines").isEqualTo(259);
        UsageScanner left = scanInChunksOf("application/x-ndjson", cut, 11);
        assertThat(left.completionTokens()).isEqualTo(-1);
        assertThat(left.chargedCompletionTokens(false)).as("two token lines received before the client left").isEqualTo(2);
    }

    @Test
    void anOpenAiStreamWithoutUsageIsChargedAChunkPerToken() {
        String sse = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
                + "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n"
                + "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
        UsageScanner scanner = scanInChunksOf("text/event-stream", sse, 7);
        assertThat(scanner.completionTokens()).isEqualTo(-1);
        assertThat(scanner.chargedCompletionTokens(true)).isEqualTo(3);
    }

    @Test
    void aNonStreamedAnswerIsChargedOnlyWhatItReported() {
        UsageScanner error = scanInChunksOf("application/json", "{\"error\":\"boom\"}", 4);
        assertThat(error.chargedCompletionTokens(true)).isZero();
        assertThat(error.chargedCompletionTokens(false)).isZero();
    }

    @Test
    void responsesAndAnthropicMessagesCountsAreRead() {
        UsageScanner plain = scanInChunksOf("application/json", "{\"object\":\"response\",\"output\":[{\"usage\":"
                + "{\"input_tokens\":99}}],\"usage\":{\"input_tokens\":11,\"output_tokens\":22,\"total_tokens\":33}}", 5);
        assertThat(plain.promptTokens()).isEqualTo(11);
        assertThat(plain.completionTokens()).isEqualTo(22);
        String responses = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"usage\":null}}\n\n"
                + "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n"
                + "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\","
                + "\"usage\":{\"input_tokens\":7,\"output_tokens\":8}}}\n\n";
        UsageScanner stream = scanInChunksOf("text/event-stream", responses, 6);
        assertThat(stream.promptTokens()).isEqualTo(7);
        assertThat(stream.completionTokens()).isEqualTo(8);
        String anthropic = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\","
                + "\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n"
                + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"x\"}}\n\n"
                + "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
                + "\"usage\":{\"output_tokens\":15}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        UsageScanner messages = scanInChunksOf("text/event-stream", anthropic, 9);
        assertThat(messages.promptTokens()).isEqualTo(12);
        assertThat(messages.completionTokens()).isEqualTo(15);
    }
}
