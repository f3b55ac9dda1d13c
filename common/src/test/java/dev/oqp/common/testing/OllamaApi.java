package dev.oqp.common.testing;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Routes a recorded request to a {@link Reply}, following the shapes of the Ollama API digest. */
final class OllamaApi {

    static final String VERSION = "0.13.5";
    static final int EMBEDDING_LENGTH = 384;

    private static final Map<String, Set<String>> ROUTES = Map.ofEntries(
            Map.entry("/", Set.of("GET", "HEAD")),
            Map.entry("/api/version", Set.of("GET", "HEAD")),
            Map.entry("/api/tags", Set.of("GET", "HEAD")),
            Map.entry("/api/ps", Set.of("GET")),
            Map.entry("/api/generate", Set.of("POST")),
            Map.entry("/api/chat", Set.of("POST")),
            Map.entry("/api/embed", Set.of("POST")),
            Map.entry("/api/embeddings", Set.of("POST")),
            Map.entry("/api/show", Set.of("POST")),
            Map.entry("/api/pull", Set.of("POST")),
            Map.entry("/api/push", Set.of("POST")),
            Map.entry("/api/create", Set.of("POST")),
            Map.entry("/api/copy", Set.of("POST")),
            Map.entry("/api/delete", Set.of("DELETE")),
            Map.entry("/v1/chat/completions", Set.of("POST")),
            Map.entry("/v1/completions", Set.of("POST")),
            Map.entry("/v1/embeddings", Set.of("POST")),
            Map.entry("/v1/models", Set.of("GET")));

    private final FakeOllama fake;
    private final Models models;

    OllamaApi(FakeOllama fake, Models models) {
        this.fake = fake;
        this.models = models;
    }

    /** Thrown by request parsing to answer an error. */
    private static final class Answer extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final transient Reply reply;

        Answer(Reply reply) {
            super(null, null, false, false);
            this.reply = reply;
        }
    }

    Reply route(RecordedRequest request) {
        String path = request.path();
        String method = request.method();
        Set<String> methods = ROUTES.get(path);
        if (methods == null && path.startsWith("/v1/models/") && path.indexOf('/', "/v1/models/".length()) < 0
                && path.length() > "/v1/models/".length()) {
            methods = Set.of("GET");
        }
        if (methods == null) {
            return Reply.text(404, "404 page not found");
        }
        if (!methods.contains(method)) {
            return Reply.text(405, "405 method not allowed");
        }
        try {
            return switch (path) {
                case "/" -> Reply.text(200, "Ollama is running");
                case "/api/version" -> Reply.json(200, Json.object().put("version", VERSION));
                case "/api/tags" -> tags();
                case "/api/ps" -> ps();
                case "/api/generate" -> generate(body(request, false), false);
                case "/api/chat" -> generate(body(request, false), true);
                case "/api/embed" -> embed(body(request, false));
                case "/api/embeddings" -> legacyEmbeddings(body(request, false));
                case "/api/show" -> show(body(request, false));
                case "/api/pull" -> pull(body(request, false));
                case "/api/push" -> push(body(request, false));
                case "/api/create" -> create(body(request, false));
                case "/api/copy" -> copy(body(request, false));
                case "/api/delete" -> delete(body(request, false));
                case "/v1/chat/completions" -> openAiCompletion(body(request, true), true);
                case "/v1/completions" -> openAiCompletion(body(request, true), false);
                case "/v1/embeddings" -> openAiEmbeddings(body(request, true));
                case "/v1/models" -> openAiModels();
                default -> openAiModel(path.substring("/v1/models/".length()));
            };
        } catch (Answer answer) {
            return answer.reply;
        }
    }

    // ---- parsing helpers ----

    private static JsonNode body(RecordedRequest request, boolean openAi) {
        String text = request.bodyAsString();
        if (text.isBlank()) {
            throw new Answer(error(openAi, 400, openAi ? "EOF" : "missing request body"));
        }
        JsonNode node;
        try {
            node = Json.MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            char first = text.strip().charAt(0);
            String message = "{[\"-0123456789tfn".indexOf(first) < 0
                    ? "invalid character '" + first + "' looking for beginning of value"
                    : "unexpected end of JSON input";
            throw new Answer(error(openAi, 400, message));
        }
        if (!node.isObject()) {
            String type = node.isArray() ? "array" : node.isTextual() ? "string" : node.isNumber() ? "number" : "bool";
            throw new Answer(error(openAi, 400, "json: cannot unmarshal " + type + " into Go value of type api.Request"));
        }
        return node;
    }

    private static Reply error(boolean openAi, int status, String message) {
        return openAi ? Reply.openAiError(status, message) : Reply.error(status, message);
    }

    private static boolean streamFlag(JsonNode body, boolean byDefault) {
        JsonNode stream = body.get("stream");
        return stream == null || stream.isNull() ? byDefault : stream.asBoolean();
    }

    /** Parses keep_alive: seconds as a number, or a Go duration string; null when absent. */
    static Duration keepAlive(JsonNode body) {
        JsonNode value = body.get("keep_alive");
        if (value == null || value.isNull()) {
            return null;
        }
        if (value.isNumber()) {
            return Duration.ofNanos((long) (value.asDouble() * 1e9));
        }
        String text = value.asText().trim();
        if (text.equals("0")) {
            return Duration.ZERO;
        }
        Matcher m = Pattern.compile("(-?)((?:\\d+(?:\\.\\d+)?(?:ns|us|ms|s|m|h))+)").matcher(text);
        if (!m.matches()) {
            throw new Answer(Reply.error(400, "time: missing unit in duration \"" + text + "\""));
        }
        long nanos = 0;
        Matcher part = Pattern.compile("(\\d+(?:\\.\\d+)?)(ns|us|ms|s|m|h)").matcher(m.group(2));
        while (part.find()) {
            double amount = Double.parseDouble(part.group(1));
            long unit = switch (part.group(2)) {
                case "ns" -> 1L;
                case "us" -> 1_000L;
                case "ms" -> 1_000_000L;
                case "s" -> 1_000_000_000L;
                case "m" -> 60_000_000_000L;
                default -> 3_600_000_000_000L;
            };
            nanos += (long) (amount * unit);
        }
        return Duration.ofNanos(m.group(1).isEmpty() ? nanos : -nanos);
    }

    /** The prompt-token rule documented on {@link FakeOllama}: whitespace-separated words. */
    static int words(String text) {
        String t = text.strip();
        return t.isEmpty() ? 0 : t.split("\\s+").length;
    }

    private static String modelField(JsonNode body, boolean legacyName) {
        String model = Json.text(body, "model");
        return model.isEmpty() && legacyName ? Json.text(body, "name") : model;
    }

    // ---- native routes ----

    private Reply tags() {
        ObjectNode body = Json.object();
        ArrayNode list = body.putArray("models");
        models.installed().forEach(model -> list.add(Models.entry(model)));
        return Reply.json(200, body);
    }

    private Reply ps() {
        ObjectNode body = Json.object();
        ArrayNode list = body.putArray("models");
        for (Map.Entry<Models.Model, Instant> loaded : models.loaded()) {
            Models.Model model = loaded.getKey();
            ObjectNode entry = Json.object();
            entry.put("name", model.name()).put("model", model.name()).put("size", model.size() + 500_000_000L)
                    .put("digest", model.digest());
            entry.set("details", Models.details(model));
            entry.put("expires_at", Models.local(loaded.getValue())).put("size_vram", model.size() + 500_000_000L)
                    .put("context_length", 4096);
            list.add(entry);
        }
        return Reply.json(200, body);
    }

    private Reply generate(JsonNode body, boolean chat) {
        String model = Json.text(body, "model");
        if (chat && model.isBlank()) {
            return Reply.error(400, "model is required");
        }
        if (models.find(model) == null) {
            return Reply.error(404, "model '" + model + "' not found");
        }
        Duration keepAlive = keepAlive(body);
        int promptTokens;
        boolean empty;
        if (chat) {
            JsonNode messages = body.get("messages");
            empty = messages == null || !messages.isArray() || messages.isEmpty();
            promptTokens = 0;
            if (!empty) {
                for (JsonNode message : messages) {
                    promptTokens += words(Json.text(message, "content"));
                }
            }
        } else {
            empty = Json.text(body, "prompt").isEmpty();
            promptTokens = words(Json.text(body, "system")) + words(Json.text(body, "prompt"));
        }
        if (empty) {
            boolean unload = keepAlive != null && keepAlive.isZero();
            ObjectNode done = chunk(model, chat, "");
            done.put("done", true).put("done_reason", unload ? "unload" : "load");
            Reply reply = Reply.json(200, done);
            // Loading a model that is not in memory takes the first-byte delay, as for any inference request.
            Duration loadTime = unload || models.isLoaded(model) ? Duration.ZERO : fake.firstByteDelay();
            return new Reply(200, Reply.JSON, reply.lines(), false, Reply.Format.NATIVE, null, loadTime,
                    () -> {
                        if (unload) {
                            models.unload(model);
                        } else {
                            models.load(model, keepAlive == null ? Models.DEFAULT_KEEP_ALIVE : keepAlive);
                        }
                    });
        }
        Generation generation = new Generation(body, body.path("options").path("num_predict").asInt(-1));
        boolean stream = streamFlag(body, true);
        long start = System.nanoTime();
        int prompt = promptTokens;
        Supplier<ObjectNode> done = () -> {
            ObjectNode last = chunk(model, chat, stream ? "" : String.join("", generation.tokens));
            last.put("done", true).put("done_reason", generation.doneReason);
            if (!chat) {
                last.putArray("context").add(1).add(2).add(3);
            }
            metrics(last, start, prompt, generation.tokens.size());
            return last;
        };
        List<Supplier<byte[]>> lines = new ArrayList<>();
        if (stream) {
            for (String token : generation.tokens) {
                lines.add(() -> Json.line(chunk(model, chat, token).put("done", false)));
            }
            lines.add(() -> Json.line(done.get()));
        } else {
            lines.add(() -> Json.bytes(done.get()));
        }
        return inference(model, keepAlive, lines, stream, stream ? Reply.NDJSON : Reply.JSON, Reply.Format.NATIVE,
                generation.tokens.size());
    }

    private final class Generation {
        final List<String> tokens;
        final String doneReason;

        Generation(JsonNode body, int numPredict) {
            List<String> all = fake.tokens();
            if (numPredict >= 0 && numPredict < all.size()) {
                tokens = all.subList(0, numPredict);
                doneReason = "length";
            } else {
                tokens = all;
                doneReason = "stop";
            }
        }
    }

    private Reply inference(String model, Duration keepAlive, List<Supplier<byte[]>> lines, boolean stream,
                            String contentType, Reply.Format format, int tokenCount) {
        Duration work = stream ? Duration.ZERO : fake.tokenDelay().multipliedBy(tokenCount);
        Duration keep = keepAlive == null ? Models.DEFAULT_KEEP_ALIVE : keepAlive;
        return new Reply(200, contentType, lines, stream, format, Models.canonical(model), work, () -> {
            if (keep.isZero()) {
                models.unload(model);
            } else {
                models.load(model, keep);
            }
        });
    }

    private ObjectNode chunk(String model, boolean chat, String content) {
        ObjectNode node = Json.object();
        node.put("model", model).put("created_at", Instant.now().toString());
        if (chat) {
            node.putObject("message").put("role", "assistant").put("content", content);
        } else {
            node.put("response", content);
        }
        return node;
    }

    private void metrics(ObjectNode node, long startNanos, int promptTokens, int evalCount) {
        long total = Math.max(1, System.nanoTime() - startNanos);
        node.put("total_duration", total);
        node.put("load_duration", Math.max(1, fake.firstByteDelay().toNanos()));
        if (promptTokens > 0) {
            node.put("prompt_eval_count", promptTokens);
            node.put("prompt_eval_duration", promptTokens * 1_000_000L);
        }
        if (evalCount > 0) {
            node.put("eval_count", evalCount);
            node.put("eval_duration", Math.max(1, fake.tokenDelay().toNanos() * evalCount));
        }
    }

    private Reply embed(JsonNode body) {
        String model = Json.text(body, "model");
        if (model.isBlank()) {
            return Reply.error(404, "model '' not found");
        }
        if (models.find(model) == null) {
            return Reply.error(404, "model \"" + model + "\" not found, try pulling it first");
        }
        List<String> inputs = inputs(body.get("input"), false);
        int dimensions = body.path("dimensions").asInt(0);
        long start = System.nanoTime();
        ObjectNode response = Json.object().put("model", model);
        ArrayNode embeddings = response.putArray("embeddings");
        int promptTokens = 0;
        for (String input : inputs) {
            embeddings.add(vector(embedding(input, dimensions, true)));
            promptTokens += Math.max(1, words(input));
        }
        if (!inputs.isEmpty()) {
            response.put("total_duration", Math.max(1, System.nanoTime() - start)).put("load_duration", 1_000_000L)
                    .put("prompt_eval_count", promptTokens);
        }
        return new Reply(200, Reply.JSON, List.of(() -> Json.bytes(response)), false, Reply.Format.NATIVE,
                inputs.isEmpty() ? null : Models.canonical(model), Duration.ZERO,
                () -> models.load(model, orDefault(keepAlive(body))));
    }

    private static Duration orDefault(Duration keepAlive) {
        return keepAlive == null ? Models.DEFAULT_KEEP_ALIVE : keepAlive;
    }

    private static List<String> inputs(JsonNode input, boolean openAi) {
        List<String> inputs = new ArrayList<>();
        if (input == null || input.isNull()) {
            if (openAi) {
                throw new Answer(Reply.openAiError(400, "invalid input"));
            }
            return inputs;
        }
        if (input.isTextual()) {
            if (!input.asText().isEmpty() || openAi) {
                inputs.add(input.asText());
            }
            return inputs;
        }
        if (input.isArray()) {
            for (JsonNode element : input) {
                if (!element.isTextual()) {
                    throw new Answer(openAi ? Reply.openAiError(400, "invalid input") : Reply.error(400, "invalid input type"));
                }
                inputs.add(element.asText());
            }
            if (inputs.isEmpty() && openAi) {
                throw new Answer(Reply.openAiError(400, "invalid input"));
            }
            return inputs;
        }
        throw new Answer(openAi ? Reply.openAiError(400, "invalid input") : Reply.error(400, "invalid input type"));
    }

    /**
     * The deterministic embedding of {@code text}: pseudo-random components seeded by the SHA-256 of
     * the text, L2-normalised when {@code normalise} (after truncation to {@code dimensions}).
     */
    static float[] embedding(String text, int dimensions, boolean normalise) {
        SplittableRandom random = new SplittableRandom(Long.parseUnsignedLong(Models.sha256(text).substring(0, 16), 16));
        int length = dimensions > 0 && dimensions < EMBEDDING_LENGTH ? dimensions : EMBEDDING_LENGTH;
        float[] vector = new float[length];
        double sum = 0;
        for (int i = 0; i < length; i++) {
            vector[i] = (float) (random.nextDouble() * 2 - 1);
            sum += vector[i] * (double) vector[i];
        }
        if (normalise) {
            double norm = Math.sqrt(sum);
            for (int i = 0; i < length; i++) {
                vector[i] = (float) (vector[i] / norm);
            }
        }
        return vector;
    }

    private static ArrayNode vector(float[] values) {
        ArrayNode array = Json.array();
        for (float value : values) {
            array.add(value);
        }
        return array;
    }

    private Reply legacyEmbeddings(JsonNode body) {
        String model = Json.text(body, "model");
        if (model.isBlank()) {
            return Reply.error(400, "model is required");
        }
        if (models.find(model) == null) {
            return Reply.error(404, "model \"" + model + "\" not found, try pulling it first");
        }
        String prompt = Json.text(body, "prompt");
        ObjectNode response = Json.object();
        if (prompt.isEmpty()) {
            response.putArray("embedding");
        } else {
            float[] raw = embedding(prompt, 0, false);
            for (int i = 0; i < raw.length; i++) {
                raw[i] *= 3;
            }
            response.set("embedding", vector(raw));
        }
        return new Reply(200, Reply.JSON, List.of(() -> Json.bytes(response)), false, Reply.Format.NATIVE,
                prompt.isEmpty() ? null : Models.canonical(model), Duration.ZERO,
                () -> models.load(model, orDefault(keepAlive(body))));
    }

    private Reply show(JsonNode body) {
        String name = modelField(body, true);
        if (name.isBlank()) {
            return Reply.error(400, "model is required");
        }
        Models.Model model = models.find(name);
        if (model == null) {
            return Reply.error(404, "model '" + name + "' not found");
        }
        ObjectNode response = Json.object();
        response.put("modelfile", "# Modelfile generated by \"ollama show\"\nFROM " + model.name() + "\n")
                .put("parameters", model.embedding() ? "" : "stop                           \"<|eot_id|>\"")
                .put("template", model.embedding() ? "" : "{{ .Prompt }}");
        response.set("details", Models.details(model));
        ObjectNode info = response.putObject("model_info");
        info.put("general.architecture", model.family()).put("general.parameter_count", model.embedding() ? 22_600_000L : 8_030_261_248L)
                .put(model.family() + ".context_length", 8192).put(model.family() + ".embedding_length", model.embedding() ? 384 : 4096);
        response.putArray("capabilities").add(model.embedding() ? "embedding" : "completion");
        response.put("modified_at", Models.local(model.modifiedAt()));
        return Reply.json(200, response);
    }

    private Reply pull(JsonNode body) {
        String name = modelField(body, true);
        if (name.isBlank()) {
            return Reply.error(400, "invalid model name");
        }
        boolean known = models.find(name) != null || fake.isPullable(name);
        String digest = Models.sha256(Models.canonical(name));
        List<ObjectNode> statuses = new ArrayList<>();
        statuses.add(Json.object().put("status", "pulling manifest"));
        if (known) {
            long total = 2_000_000_000L;
            for (long completed : new long[] {0, total / 2, total}) {
                statuses.add(Json.object().put("status", "pulling " + digest.substring(0, 12))
                        .put("digest", "sha256:" + digest).put("total", total).put("completed", completed));
            }
            statuses.add(Json.object().put("status", "verifying sha256 digest"));
            statuses.add(Json.object().put("status", "writing manifest"));
            statuses.add(Json.object().put("status", "success"));
        }
        String failure = "pull model manifest: file does not exist";
        return progress(body, statuses, known ? null : failure, () -> models.install(name));
    }

    private Reply push(JsonNode body) {
        String name = modelField(body, true);
        if (name.isBlank()) {
            return Reply.error(400, "model is required");
        }
        boolean known = models.find(name) != null;
        String digest = Models.sha256(Models.canonical(name));
        List<ObjectNode> statuses = new ArrayList<>();
        statuses.add(Json.object().put("status", "retrieving manifest"));
        if (known) {
            statuses.add(Json.object().put("status", "pushing " + digest.substring(0, 12)).put("digest", "sha256:" + digest)
                    .put("total", 1000).put("completed", 1000));
            statuses.add(Json.object().put("status", "pushing manifest"));
            statuses.add(Json.object().put("status", "success"));
        } else {
            statuses.add(Json.object().put("status", "couldn't retrieve manifest"));
        }
        return progress(body, statuses, known ? null : "open : no such file or directory", null);
    }

    private Reply create(JsonNode body) {
        String name = modelField(body, true);
        if (name.isBlank()) {
            return Reply.error(400, "invalid model name");
        }
        String from = Json.text(body, "from");
        if (from.isEmpty() && !body.has("files")) {
            return Reply.error(400, "neither 'from' or 'files' was specified");
        }
        List<ObjectNode> statuses = List.of(Json.object().put("status", "reading model metadata"),
                Json.object().put("status", "writing manifest"), Json.object().put("status", "success"));
        return progress(body, statuses, null, () -> models.install(name));
    }

    private Reply progress(JsonNode body, List<ObjectNode> statuses, String failure, Runnable onSuccess) {
        if (!streamFlag(body, true)) {
            if (failure != null) {
                return Reply.error(500, failure);
            }
            Reply reply = Reply.json(200, statuses.get(statuses.size() - 1));
            return new Reply(200, Reply.JSON, reply.lines(), false, Reply.Format.NATIVE, null, Duration.ZERO, onSuccess);
        }
        List<Supplier<byte[]>> lines = new ArrayList<>();
        statuses.forEach(status -> lines.add(() -> Json.line(status)));
        if (failure != null) {
            lines.add(() -> Json.line(Json.object().put("error", failure)));
        }
        return new Reply(200, Reply.NDJSON, lines, true, Reply.Format.NATIVE, null, Duration.ZERO,
                failure == null ? onSuccess : null);
    }

    private Reply copy(JsonNode body) {
        String source = Json.text(body, "source");
        String destination = Json.text(body, "destination");
        if (source.isBlank()) {
            return Reply.error(400, "source \"\" is invalid");
        }
        if (destination.isBlank()) {
            return Reply.error(400, "destination \"\" is invalid");
        }
        if (models.find(source) == null) {
            return Reply.error(404, "model \"" + source + "\" not found");
        }
        models.install(destination);
        return Reply.empty(200);
    }

    private Reply delete(JsonNode body) {
        String name = modelField(body, true);
        if (name.isBlank()) {
            return Reply.error(400, "model is required");
        }
        if (!models.remove(name)) {
            return Reply.error(404, "model '" + name + "' not found");
        }
        return Reply.empty(200);
    }

    // ---- OpenAI-compatible routes ----

    private Reply openAiCompletion(JsonNode body, boolean chat) {
        String model = Json.text(body, "model");
        int promptTokens = 0;
        if (chat) {
            JsonNode messages = body.get("messages");
            if (messages == null || !messages.isArray() || messages.isEmpty()) {
                return Reply.openAiError(400, "[] is too short - 'messages'");
            }
            for (JsonNode message : messages) {
                JsonNode content = message.get("content");
                if (content != null && content.isArray()) {
                    for (JsonNode part : content) {
                        promptTokens += words(Json.text(part, "text"));
                    }
                } else {
                    promptTokens += words(Json.text(message, "content"));
                }
            }
        } else {
            promptTokens = words(Json.text(body, "prompt"));
        }
        if (model.isBlank() && chat) {
            return Reply.openAiError(400, "model is required");
        }
        if (models.find(model) == null) {
            return Reply.openAiError(404, "model '" + model + "' not found");
        }
        Generation generation = new Generation(body, body.path("max_tokens").asInt(-1));
        String finish = generation.doneReason;
        boolean stream = streamFlag(body, false);
        String id = (chat ? "chatcmpl-" : "cmpl-") + ThreadLocalRandom.current().nextInt(999);
        String object = chat ? (stream ? "chat.completion.chunk" : "chat.completion") : "text_completion";
        int prompt = promptTokens;
        int completion = generation.tokens.size();
        Supplier<ObjectNode> usage = () -> Json.object().put("prompt_tokens", prompt)
                .put("completion_tokens", completion).put("total_tokens", prompt + completion);
        List<Supplier<byte[]>> lines = new ArrayList<>();
        if (!stream) {
            lines.add(() -> {
                ObjectNode response = openAiHead(id, object, model);
                ObjectNode choice = response.putArray("choices").addObject().put("index", 0);
                String text = String.join("", generation.tokens);
                if (chat) {
                    choice.putObject("message").put("role", "assistant").put("content", text);
                } else {
                    choice.put("text", text);
                }
                choice.put("finish_reason", finish);
                response.set("usage", usage.get());
                return Json.bytes(response);
            });
        } else {
            List<String> pieces = new ArrayList<>(generation.tokens);
            pieces.add("");
            for (int i = 0; i < pieces.size(); i++) {
                String piece = pieces.get(i);
                boolean last = i == pieces.size() - 1;
                lines.add(() -> {
                    ObjectNode response = openAiHead(id, object, model);
                    ObjectNode choice = response.putArray("choices").addObject().put("index", 0);
                    if (chat) {
                        choice.putObject("delta").put("role", "assistant").put("content", piece);
                    } else {
                        choice.put("text", piece);
                    }
                    if (last) {
                        choice.put("finish_reason", finish);
                    } else {
                        choice.putNull("finish_reason");
                    }
                    return Json.event(response);
                });
            }
            if (body.path("stream_options").path("include_usage").asBoolean(false)) {
                lines.add(() -> {
                    ObjectNode response = openAiHead(id, object, model);
                    response.putArray("choices");
                    response.set("usage", usage.get());
                    return Json.event(response);
                });
            }
            lines.add(() -> "data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
        }
        return inference(model, null, lines, stream, stream ? Reply.SSE : Reply.JSON, Reply.Format.OPENAI, completion);
    }

    private static ObjectNode openAiHead(String id, String object, String model) {
        return Json.object().put("id", id).put("object", object).put("created", Instant.now().getEpochSecond())
                .put("model", model).put("system_fingerprint", "fp_ollama");
    }

    private Reply openAiEmbeddings(JsonNode body) {
        String model = Json.text(body, "model");
        List<String> inputs = inputs(body.get("input"), true);
        String encoding = body.path("encoding_format").asText("float");
        if (encoding.isEmpty()) {
            encoding = "float";
        }
        if (!encoding.equals("float") && !encoding.equals("base64")) {
            return Reply.openAiError(400, "invalid encoding format: " + encoding);
        }
        if (models.find(model) == null) {
            return Reply.openAiError(404, "model \"" + model + "\" not found, try pulling it first");
        }
        int dimensions = body.path("dimensions").asInt(0);
        ObjectNode response = Json.object().put("object", "list");
        ArrayNode data = response.putArray("data");
        int tokens = 0;
        for (int i = 0; i < inputs.size(); i++) {
            float[] vector = embedding(inputs.get(i), dimensions, true);
            ObjectNode item = data.addObject().put("object", "embedding");
            if (encoding.equals("base64")) {
                ByteBuffer buffer = ByteBuffer.allocate(vector.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (float value : vector) {
                    buffer.putFloat(value);
                }
                item.put("embedding", Base64.getEncoder().encodeToString(buffer.array()));
            } else {
                item.set("embedding", vector(vector));
            }
            item.put("index", i);
            tokens += Math.max(1, words(inputs.get(i)));
        }
        response.put("model", model);
        response.putObject("usage").put("prompt_tokens", tokens).put("total_tokens", tokens);
        return new Reply(200, Reply.JSON, List.of(() -> Json.bytes(response)), false, Reply.Format.OPENAI,
                Models.canonical(model), Duration.ZERO, () -> models.load(model, Models.DEFAULT_KEEP_ALIVE));
    }

    private Reply openAiModels() {
        ObjectNode response = Json.object().put("object", "list");
        List<Models.Model> installed = models.installed();
        if (installed.isEmpty()) {
            response.putNull("data");
        } else {
            ArrayNode data = response.putArray("data");
            installed.forEach(model -> data.add(openAiModelEntry(model.name(), model)));
        }
        return Reply.json(200, response).with(Reply.Format.OPENAI);
    }

    private Reply openAiModel(String name) {
        Models.Model model = models.find(name);
        if (model == null) {
            return Reply.openAiError(404, "model '" + name + "' not found");
        }
        return Reply.json(200, openAiModelEntry(name, model)).with(Reply.Format.OPENAI);
    }

    private static ObjectNode openAiModelEntry(String id, Models.Model model) {
        String canonical = Models.canonical(model.name());
        int slash = canonical.indexOf('/');
        return Json.object().put("id", id).put("object", "model").put("created", model.modifiedAt().getEpochSecond())
                .put("owned_by", slash < 0 ? "library" : canonical.substring(0, slash));
    }
}
