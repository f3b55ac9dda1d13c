package dev.oqp.queue.server;

import java.util.Map;
import java.util.Set;

import dev.oqp.common.config.Scope;
import dev.oqp.queue.admin.AdminEndpoints;

/**
 * What the queue proxy does with a request (pipeline step 4), decided from its method and path alone.
 *
 * @param kind      the pipeline branch
 * @param scope     the key scope required; null when no key is needed ({@code /health}, {@code /ready})
 * @param target    where a forwarded request goes
 * @param embedding true for the three embedding endpoints (the embedding cache applies)
 */
public record Route(Kind kind, Scope scope, Target target, boolean embedding) {

    /** The branch of the pipeline. */
    public enum Kind {
        /** Answered by the proxy itself. */
        OWN,
        /** Queued, routed by model, counted, maybe cached. */
        INFERENCE,
        /** Not queued: answered from one host, a host that has the model, or merged over hosts. */
        METADATA,
        /** Pull, push, create, copy, delete, blob upload: scope management, one chosen host. */
        MANAGEMENT,
        /** Unknown path: 404 in Ollama's shape. */
        NOT_FOUND,
        /** Known path, wrong method: 405. */
        METHOD_NOT_ALLOWED
    }

    /** Where a forwarded request goes. */
    public enum Target {
        /** Not forwarded. */
        NONE,
        /** Any healthy host. */
        ANY_HOST,
        /** Every healthy host, answers merged ({@code /api/tags}, {@code /api/ps}, {@code /v1/models}). */
        MERGED,
        /** A host that has the request's model. */
        MODEL_HOST,
        /** The host named by {@code X-Ollama-Host}, else the first healthy one in config order. */
        MANAGEMENT_HOST
    }

    /** The one path that also takes its key as {@code x-api-key} (the Anthropic Messages API). */
    static final String TAKES_API_KEY = "/v1/messages";

    private static final Route NOT_FOUND = new Route(Kind.NOT_FOUND, null, Target.NONE, false);
    private static final Route NOT_ALLOWED = new Route(Kind.METHOD_NOT_ALLOWED, null, Target.NONE, false);

    private static final Set<String> GET_HEAD = Set.of("GET", "HEAD");
    private static final Set<String> GET = Set.of("GET");
    private static final Set<String> POST = Set.of("POST");
    private static final Set<String> DELETE = Set.of("DELETE");

    private record Entry(Set<String> methods, Route route) {
    }

    private static final Map<String, Entry> EXACT = Map.ofEntries(
            own("/health", GET_HEAD, null),
            own("/ready", GET_HEAD, null),
            own("/metrics", GET, Scope.READ),
            own("/queue/status", GET, Scope.READ),
            own("/queue/summary", GET, Scope.READ),
            own("/dashboard", GET, Scope.READ),
            own("/usage", GET, Scope.READ),
            own("/queue/pause", POST, Scope.MANAGEMENT),
            own("/queue/resume", POST, Scope.MANAGEMENT),
            own("/queue/drain", POST, Scope.MANAGEMENT),
            own("/queue/flush", POST, Scope.MANAGEMENT),
            inference("/api/generate", false),
            inference("/api/chat", false),
            inference("/api/embed", true),
            inference("/api/embeddings", true),
            inference("/v1/chat/completions", false),
            inference("/v1/completions", false),
            inference("/v1/embeddings", true),
            inference("/v1/responses", false),
            inference(TAKES_API_KEY, false),
            metadata("/", GET_HEAD, Target.ANY_HOST),
            metadata("/api/version", GET_HEAD, Target.ANY_HOST),
            metadata("/api/tags", GET_HEAD, Target.MERGED),
            metadata("/api/ps", GET, Target.MERGED),
            metadata("/v1/models", GET, Target.MERGED),
            metadata("/api/show", POST, Target.MODEL_HOST),
            management("/api/pull", POST),
            management("/api/push", POST),
            management("/api/create", POST),
            management("/api/copy", POST),
            management("/api/delete", DELETE));

    private static final Route BLOB_HEAD = new Route(Kind.METADATA, Scope.READ, Target.MANAGEMENT_HOST, false);
    private static final Route BLOB_UPLOAD = new Route(Kind.MANAGEMENT, Scope.MANAGEMENT, Target.MANAGEMENT_HOST, false);
    private static final Route MODEL_INFO = new Route(Kind.METADATA, Scope.READ, Target.MODEL_HOST, false);
    /** {@code GET /queue/requests/{X-Request-ID}}: where a queued request stands. */
    private static final String QUEUE_REQUESTS = AdminEndpoints.QUEUE_REQUESTS;
    private static final Route QUEUE_REQUEST = new Route(Kind.OWN, Scope.READ, Target.NONE, false);

    /** The route of a path that exists nowhere: 404. */
    public static Route notFound() {
        return NOT_FOUND;
    }

    /** The route of {@code method path}; {@code path} is the request's decoded path without query. */
    public static Route classify(String method, String path) {
        Entry entry = EXACT.get(path);
        if (entry != null) {
            return entry.methods().contains(method) ? entry.route() : NOT_ALLOWED;
        }
        if (path.startsWith("/api/blobs/") && path.length() > "/api/blobs/".length()
                && path.indexOf('/', "/api/blobs/".length()) < 0) {
            return switch (method) {
                case "HEAD" -> BLOB_HEAD;
                case "POST" -> BLOB_UPLOAD;
                default -> NOT_ALLOWED;
            };
        }
        if (path.startsWith(QUEUE_REQUESTS) && path.length() > QUEUE_REQUESTS.length()
                && path.indexOf('/', QUEUE_REQUESTS.length()) < 0) {
            return "GET".equals(method) ? QUEUE_REQUEST : NOT_ALLOWED;
        }
        if (path.startsWith("/v1/models/") && path.length() > "/v1/models/".length()
                && path.indexOf('/', "/v1/models/".length()) < 0) {
            // One path segment, as Ollama routes it; namespaced names do not match there either.
            return "GET".equals(method) ? MODEL_INFO : NOT_ALLOWED;
        }
        return NOT_FOUND;
    }

    private static Map.Entry<String, Entry> own(String path, Set<String> methods, Scope scope) {
        return Map.entry(path, new Entry(methods, new Route(Kind.OWN, scope, Target.NONE, false)));
    }

    private static Map.Entry<String, Entry> inference(String path, boolean embedding) {
        return Map.entry(path, new Entry(POST, new Route(Kind.INFERENCE, Scope.INFERENCE, Target.MODEL_HOST, embedding)));
    }

    private static Map.Entry<String, Entry> metadata(String path, Set<String> methods, Target target) {
        return Map.entry(path, new Entry(methods, new Route(Kind.METADATA, Scope.READ, target, false)));
    }

    private static Map.Entry<String, Entry> management(String path, Set<String> methods) {
        return Map.entry(path, new Entry(methods, new Route(Kind.MANAGEMENT, Scope.MANAGEMENT, Target.MANAGEMENT_HOST,
                false)));
    }
}
