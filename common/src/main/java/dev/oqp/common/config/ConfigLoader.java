package dev.oqp.common.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Loads the one configuration file of both binaries: YAML, environment interpolation of every string
 * value, then hand binding with every problem collected ({@link ConfigException}) before any port is
 * bound. Relative {@code key_file} and {@code ca_file} paths are resolved against the config file's
 * directory ({@link #load}) or the working directory ({@link #parse}, {@link #defaults}).
 * See {@code docs/configuration.md} for every key and rule.
 */
public final class ConfigLoader {

    private static final Pattern ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final String ID_RULE = "1-64 characters of A-Z a-z 0-9 . _ -";
    private static final Pattern TOKEN = Pattern.compile("[!#$%&'*+\\-.^_`|~0-9A-Za-z]+");
    private static final Set<String> HOP_BY_HOP = Set.of("host", "content-length", "transfer-encoding", "connection",
            "keep-alive", "upgrade", "te", "trailer", "proxy-connection");
    private static final Pattern HEX64 = Pattern.compile("[0-9A-Fa-f]{64}");
    private static final Pattern GO_DURATION = Pattern.compile("[-+]?((\\d+(\\.\\d*)?|\\.\\d+)(ns|us|µs|μs|ms|s|m|h))+");
    private static final int MIN_KEY_LENGTH = 16;
    private static final long MAX_KEY_FILE_BYTES = 64 * 1024;

    private static final List<String> ROOT_KEYS = List.of("services", "proxy", "ollama", "queue", "auth", "routing",
            "embedding_cache", "keep_alive", "admin", "logging", "sidecar");
    private static final List<String> SERVICE_KEYS = List.of("name", "listen", "bind", "allow_public", "upstream",
            "timeout", "connect_timeout", "max_body", "headers", "client", "ca_file");
    private static final List<String> PROXY_KEYS = List.of("host", "port", "allow_public", "max_concurrent", "max_body",
            "drain_timeout", "trusted_proxies");
    private static final List<String> OLLAMA_KEYS = List.of("hosts", "connect_timeout", "request_timeout",
            "health_check_interval", "model_sync_interval");
    private static final List<String> HOST_KEYS = List.of("name", "url", "max_concurrent", "weight", "headers");
    private static final List<String> QUEUE_KEYS = List.of("high", "normal", "low", "overflow_status_code", "aging",
            "max_queued_bytes");
    private static final List<String> TIER_KEYS = List.of("max_depth", "max_wait");
    private static final List<String> AUTH_KEYS = List.of("enabled", "keys", "rate_limit");
    private static final List<String> KEY_KEYS = List.of("client_id", "key", "key_env", "key_file", "key_sha256",
            "max_priority", "scope", "max_concurrent", "models", "requests_per_minute", "tokens_per_minute",
            "tokens_per_day");
    private static final List<String> KEY_SOURCES = List.of("key", "key_env", "key_file", "key_sha256");
    private static final List<String> RATE_LIMIT_KEYS = List.of("max_failures", "window");
    private static final List<String> ROUTING_KEYS = List.of("strategy", "fallback", "protect_cold_loads");
    private static final List<String> CACHE_KEYS = List.of("enabled", "backend", "ttl", "max_entries", "max_entry_bytes",
            "max_memory", "timeout", "key_prefix", "partition", "required");
    private static final List<String> KEEP_ALIVE_KEYS = List.of("default", "override");
    private static final List<String> ADMIN_KEYS = List.of("metrics_public", "dashboard");
    private static final List<String> LOGGING_KEYS = List.of("level", "format", "access_log");
    private static final List<String> SIDECAR_KEYS = List.of("metrics_port", "metrics_bind", "metrics_allow_public",
            "drain_timeout");

    private final Target target;
    private final Path baseDir;
    private final Node.Context ctx;
    /** Port to the YAML path that claimed it first, in binding order. */
    private final Map<Integer, String> ports = new LinkedHashMap<>();
    /** What each service (a map) offers as client identity, in file order; checked against auth at the end. */
    private final List<ServiceIdentity> identities = new ArrayList<>();
    /** What auth.keys offers to identify a service; set by {@link #auth}. */
    private AuthFacts authFacts;

    /**
     * A service's identity inputs as bound: {@code headers} holds only accepted values; {@code rejected} is true
     * when the client or an Authorization header was written but refused (already a problem), so whether the
     * service has an identity cannot be told.
     */
    private record ServiceIdentity(String path, String clientPath, Map<String, String> headers, String client,
            boolean rejected) {
    }

    /**
     * What auth.keys offers to identify a service: the valid client ids in file order, the digests of the keys
     * resolved, and whether every entry resolved its key (else an unknown key may be one that failed).
     */
    private record AuthFacts(boolean enabled, Set<String> clientIds, Set<String> digests, boolean allKeysResolved) {
    }

    private ConfigLoader(Target target, Map<String, String> env, Path baseDir) {
        this.target = Objects.requireNonNull(target, "target");
        this.ctx = new Node.Context(Map.copyOf(Objects.requireNonNull(env, "env")));
        this.baseDir = baseDir;
    }

    /** Reads and validates {@code file}; a missing or unreadable file is a single problem. */
    public static OqpConfig load(Path file, Target target, Map<String, String> env) throws ConfigException {
        String yaml;
        try {
            yaml = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException(List.of(file + ": config file not found"));
        } catch (CharacterCodingException e) {
            throw new ConfigException(List.of(file + ": config file is not UTF-8 text"));
        } catch (IOException e) {
            throw new ConfigException(List.of(file + ": cannot read config file: " + e));
        }
        Path dir = file.toAbsolutePath().normalize().getParent();
        return new ConfigLoader(target, env, dir == null ? cwd() : dir).bind(yaml);
    }

    /** Validates YAML text; an empty text or one of only comments gives all defaults. */
    public static OqpConfig parse(String yaml, Target target, Map<String, String> env) throws ConfigException {
        return new ConfigLoader(target, env, cwd()).bind(yaml);
    }

    /** The embedded defaults used when no file is given (the sidecar gets a problem: it needs services). */
    public static OqpConfig defaults(Target target, Map<String, String> env) throws ConfigException {
        return parse("", target, env);
    }

    private static Path cwd() {
        return Path.of("").toAbsolutePath();
    }

    private OqpConfig bind(String yaml) throws ConfigException {
        JsonNode tree;
        try {
            tree = YamlTree.read(yaml);
        } catch (JacksonException e) {
            throw new ConfigException(List.of(syntaxProblem(e)));
        } catch (IOException e) {
            throw new ConfigException(List.of("top level: cannot read: " + e.getMessage()));
        }
        Node root = new Node(ctx, tree, "");
        if (!root.absent() && !tree.isObject()) {
            throw new ConfigException(List.of("top level: expected a map of sections, got " + Node.kind(tree)));
        }
        Node.Mapping m = root.mapping(ROOT_KEYS);
        List<ServiceConfig> services = services(m.get("services"));
        ProxyConfig proxy = proxy(m.get("proxy"));
        OllamaConfig ollama = ollama(m.get("ollama"));
        QueueConfig queue = queue(m.get("queue"));
        AuthConfig auth = auth(m.get("auth"));
        RoutingConfig routing = routing(m.get("routing"));
        EmbeddingCacheConfig cache = embeddingCache(m.get("embedding_cache"));
        KeepAliveConfig keepAlive = keepAlive(m.get("keep_alive"));
        AdminConfig admin = admin(m.get("admin"));
        LoggingConfig logging = logging(m.get("logging"));
        SidecarConfig sidecar = sidecar(m.get("sidecar"));
        serviceIdentities();
        if (!ctx.problems.isEmpty()) {
            throw new ConfigException(ctx.problems);
        }
        return new OqpConfig(services, proxy, ollama, queue, auth, routing, cache, keepAlive, admin, logging, sidecar);
    }

    private static String syntaxProblem(JacksonException e) {
        String message = e.getOriginalMessage();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof org.yaml.snakeyaml.error.MarkedYAMLException) {
                var marked = (org.yaml.snakeyaml.error.MarkedYAMLException) t;
                message = marked.getProblem() + (marked.getContext() == null ? "" : " (" + marked.getContext() + ")");
                break;
            }
        }
        message = message == null ? e.getClass().getSimpleName() : message.lines().findFirst().orElse("").trim();
        JsonLocation at = e.getLocation();
        String where = at == null ? "" : "line " + at.getLineNr() + ", column " + at.getColumnNr() + ": ";
        return "YAML syntax error: " + where + message;
    }

    // ---------------------------------------------------------------- services

    private List<ServiceConfig> services(Node node) {
        List<ServiceConfig> out = new ArrayList<>();
        Map<String, String> names = new LinkedHashMap<>();
        List<Node> elements = node.elements();
        if (target == Target.SIDECAR && elements.isEmpty() && (node.absent() || node.isList())) {
            node.problem("at least one service is required by " + target.binaryName());
        }
        for (Node element : elements) {
            Node.Mapping m = element.mapping(SERVICE_KEYS);
            if (!element.absent() && !element.json.isObject()) {
                continue;
            }
            String name = uniqueId(m.get("name"), names, "service name");
            Integer listen = port(m.get("listen"), true);
            boolean allowPublic = or(m.get("allow_public").bool(), false);
            String bind = bindAddress(m.get("bind"), allowPublic, "allow_public");
            URI upstream = httpUrl(m.get("upstream"));
            if (target == Target.SIDECAR && m.get("upstream").absent()) {
                m.get("upstream").problem("required by " + target.binaryName());
            }
            Duration timeout = or(m.get("timeout").duration(false), ServiceConfig.DEFAULT_TIMEOUT);
            Duration connectTimeout = or(m.get("connect_timeout").duration(false), ServiceConfig.DEFAULT_CONNECT_TIMEOUT);
            long maxBody = or(m.get("max_body").size(), ServiceConfig.DEFAULT_MAX_BODY);
            Node headersNode = m.get("headers");
            Map<String, String> headers = headers(headersNode);
            Node clientNode = m.get("client");
            String client = clientName(clientNode);
            boolean authorizationRejected = !headersNode.absent() && (!headersNode.json.isObject()
                    || writesAuthorization(headersNode) && authorization(headers) == null);
            identities.add(new ServiceIdentity(element.path, clientNode.path, headers, client,
                    authorizationRejected || !clientNode.absent() && client == null));
            Path caFile = caFile(m.get("ca_file"));
            add(out, element.path, () -> new ServiceConfig(name, listen, bind, allowPublic, upstream, timeout,
                    connectTimeout, maxBody, headers, client, caFile));
        }
        return out;
    }

    /** A required unique id; reports duplicates against the first path. */
    private static String uniqueId(Node node, Map<String, String> seen, String what) {
        if (node.absent()) {
            node.problem("required");
            return null;
        }
        String id = node.string();
        if (id == null) {
            return null;
        }
        if (!ID.matcher(id).matches()) {
            node.problem(Node.show(id) + " (expected: " + ID_RULE + ")");
            return null;
        }
        String first = seen.putIfAbsent(id, node.path);
        if (first != null) {
            node.problem("duplicate " + what + " \"" + id + "\" (also " + first + ")");
        }
        return id;
    }

    private static boolean writesAuthorization(Node headers) {
        for (Map.Entry<String, JsonNode> e : headers.json.properties()) {
            if (e.getKey().equalsIgnoreCase("authorization")) {
                return true;
            }
        }
        return false;
    }

    /** The value of the Authorization header, its name matched ignoring case; {@code null} when there is none. */
    private static String authorization(Map<String, String> headers) {
        for (Map.Entry<String, String> e : headers.entrySet()) {
            if (e.getKey().equalsIgnoreCase("authorization")) {
                return e.getValue();
            }
        }
        return null;
    }


    /**
     * Queue proxy with auth enabled: a request on a service port is identified by the key its Authorization
     * header injects, else by the service's client. So a client must name a client_id of auth.keys, and a
     * service needs one or the other. Header values are secrets: never echoed, not even in part.
     */
    private void serviceIdentities() {
        AuthFacts auth = authFacts;
        if (target != Target.QUEUE_PROXY || auth == null || !auth.enabled()) {
            return;
        }
        for (ServiceIdentity s : identities) {
            if (s.client() != null && !auth.clientIds().isEmpty() && !auth.clientIds().contains(s.client())) {
                ctx.problem(s.clientPath(), s.client() + " is not a client_id of auth.keys (expected: one of "
                        + String.join(", ", auth.clientIds()) + ")");
            }
            if (s.client() != null || s.rejected()) {
                continue;
            }
            String authorization = authorization(s.headers());
            String token = BearerTokens.parse(authorization);
            if (token != null && auth.digests().contains(KeyConfig.sha256Hex(token))) {
                continue;
            }
            String problem = "no client identity: auth is enabled, so a service needs an Authorization header"
                    + " carrying a key of auth.keys, or client naming one of their client_id";
            if (authorization == null) {
                ctx.problem(s.path(), problem);
            } else if (auth.allKeysResolved()) {
                // Not when a key of auth.keys failed: it may be the one injected, and that is reported already.
                ctx.problem(s.path(), problem + "; its Authorization header carries no key of auth.keys");
            }
        }
    }

    private static String clientName(Node node) {
        String client = node.string();
        if (client != null && !ID.matcher(client).matches()) {
            node.problem(Node.show(client) + " (expected: " + ID_RULE + ")");
            return null;
        }
        return client;
    }

    /** A port 1024-65535 that no other listener of the file uses. */
    private Integer port(Node node, boolean required) {
        if (node.absent()) {
            if (required) {
                node.problem("required (expected: a port 1024-65535)");
            }
            return null;
        }
        Integer port = node.integer(1024, 65535);
        if (port != null) {
            claim(port, node.path);
        }
        return port;
    }

    private void claim(int port, String path) {
        String first = ports.putIfAbsent(port, path);
        if (first != null) {
            ctx.problem(path, "port " + port + " is already used by " + first);
        }
    }

    /** An IP literal or {@code localhost}; non-loopback needs the named allow key set to true. */
    private static String bindAddress(Node node, boolean allowPublic, String allowKey) {
        if (node.absent()) {
            return "127.0.0.1";
        }
        String host = node.string();
        if (host == null) {
            return "127.0.0.1";
        }
        if (!host.equalsIgnoreCase("localhost") && InetLiterals.parse(host) == null) {
            node.problem(Node.show(host) + " (expected: an IP address such as 127.0.0.1, 0.0.0.0 or ::1, or localhost)");
        } else if (!allowPublic && !InetLiterals.isLoopback(host)) {
            node.problem(host + " is not a loopback address (expected: " + allowKey
                    + ": true to accept connections from other machines)");
        }
        return host;
    }

    /** {@code host}, {@code host:port} or {@code [v6]:port} without a scheme. */
    private static final java.util.regex.Pattern HOST_PORT_ONLY =
            java.util.regex.Pattern.compile("(?:[A-Za-z0-9][A-Za-z0-9.-]*|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]{1,5})?");

    /** An absolute http(s) URL naming only scheme, host and port; normalised to a lowercase scheme and no path. */
    private static URI httpUrl(Node node) {
        String text = node.string();
        if (text == null) {
            return null;
        }
        String expected = " (expected: an http or https URL such as http://ollama:11434)";
        if (HOST_PORT_ONLY.matcher(text.trim()).matches()) {
            // OLLAMA_HOST's own form (host:port, no scheme): say what to write. Only a host and port are echoed.
            node.problem("no scheme: write http://" + text.trim() + expected);
            return null;
        }
        URI uri;
        try {
            uri = new URI(text.trim());
        } catch (URISyntaxException e) {
            node.problem("not a valid URL" + expected);
            return null;
        }
        if (uri.getRawUserInfo() != null) {
            node.problem("credentials in the URL are not allowed (expected: put them in headers, e.g. Authorization)");
            return null;
        }
        // Messages name the scheme, host and port at most: a path or query may carry a secret.
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || uri.isOpaque()) {
            node.problem((scheme.isEmpty() || uri.isOpaque() ? "not an absolute URL"
                    : "scheme \"" + scheme + "\" is not supported") + expected);
            return null;
        }
        if (uri.getHost() == null) {
            node.problem("no valid host" + expected);
            return null;
        }
        String origin = scheme + "://" + uri.getHost() + (uri.getPort() < 0 ? "" : ":" + uri.getPort());
        if (uri.getPort() == 0 || uri.getPort() > 65535) {
            node.problem(origin + " has port " + uri.getPort() + " (expected: 1-65535)");
            return null;
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
            node.problem(origin + " has a query or fragment (expected: scheme://host[:port])");
            return null;
        }
        String path = uri.getRawPath();
        if (path != null && !path.isEmpty() && !path.equals("/")) {
            node.problem(origin + " is followed by a path (not shown; expected: scheme://host[:port], paths are not"
                    + " supported)");
            return null;
        }
        try {
            return new URI(scheme, null, uri.getHost(), uri.getPort(), null, null, null);
        } catch (URISyntaxException e) {
            node.problem("not a valid URL" + expected);
            return null;
        }
    }

    /** Header name to interpolated value, in file order. */
    private static Map<String, String> headers(Node node) {
        Map<String, String> out = new LinkedHashMap<>();
        Map<String, String> seen = new LinkedHashMap<>();
        node.entries().forEach((name, value) -> {
            if (!TOKEN.matcher(name).matches()) {
                value.problem("not a valid header name (expected: RFC 9110 token characters)");
                return;
            }
            String lower = name.toLowerCase(Locale.ROOT);
            if (HOP_BY_HOP.contains(lower)) {
                value.problem("this header cannot be injected (it is managed by the proxy)");
                return;
            }
            String first = seen.putIfAbsent(lower, value.path);
            if (first != null) {
                value.problem("duplicate header (also " + first + ")");
                return;
            }
            if (value.absent()) {
                value.problem("expected a string, got null");
                return;
            }
            String text = value.string();
            if (text == null) {
                return;
            }
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                if ((c < 0x20 && c != '\t') || c == 0x7f) {
                    value.problem("value contains a control character such as CR, LF or NUL (expected: printable text)");
                    return;
                }
                if (c > 0x7e) {
                    // HTTP sends header bytes as Latin-1: anything else would arrive changed.
                    value.problem("value contains a non-ASCII character (expected: printable ASCII text)");
                    return;
                }
            }
            out.put(name, text);
        });
        return out;
    }

    private Path readablePath(Node node) {
        String text = node.string();
        if (text == null) {
            return null;
        }
        if (text.isBlank()) {
            node.problem("\"\" (expected: a file path)");
            return null;
        }
        Path path = baseDir.resolve(text).toAbsolutePath().normalize();
        if (!Files.exists(path)) {
            node.problem(path + " does not exist");
            return null;
        }
        if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
            node.problem(path + " is not a readable file");
            return null;
        }
        return path;
    }

    private Path caFile(Node node) {
        Path path = readablePath(node);
        if (path == null) {
            return null;
        }
        try (InputStream in = Files.newInputStream(path)) {
            if (CertificateFactory.getInstance("X.509").generateCertificates(in).isEmpty()) {
                node.problem(path + " contains no PEM certificate");
                return null;
            }
        } catch (IOException | GeneralSecurityException e) {
            node.problem(path + " is not a PEM certificate file (" + e.getMessage() + ")");
            return null;
        }
        return path;
    }

    // ---------------------------------------------------------------- proxy, ollama

    private ProxyConfig proxy(Node node) {
        Node.Mapping m = node.mapping(PROXY_KEYS);
        boolean allowPublic = or(m.get("allow_public").bool(), false);
        String host = bindAddress(m.get("host"), allowPublic, "allow_public");
        Integer port = port(m.get("port"), false);
        if (m.get("port").absent() && target == Target.QUEUE_PROXY) {
            claim(ProxyConfig.DEFAULT_PORT, "proxy.port (default)");
        }
        int maxConcurrent = or(m.get("max_concurrent").integer(0, Integer.MAX_VALUE), 0);
        long maxBody = or(m.get("max_body").size(), ProxyConfig.DEFAULT_MAX_BODY);
        Duration drain = or(m.get("drain_timeout").duration(false), ProxyConfig.DEFAULT_DRAIN_TIMEOUT);
        List<Cidr> trusted = new ArrayList<>();
        for (Node n : m.get("trusted_proxies").elements()) {
            String text = n.string();
            if (text == null) {
                if (n.absent()) {
                    n.problem("expected a CIDR, got null");
                }
                continue;
            }
            try {
                trusted.add(Cidr.parse(text.trim()));
            } catch (IllegalArgumentException e) {
                n.problem(e.getMessage());
            }
        }
        return build(node.path, () -> new ProxyConfig(host, or(port, ProxyConfig.DEFAULT_PORT), allowPublic,
                maxConcurrent, maxBody, drain, trusted));
    }

    private OllamaConfig ollama(Node node) {
        Node.Mapping m = node.mapping(OLLAMA_KEYS);
        List<HostConfig> hosts = new ArrayList<>();
        Node hostsNode = m.get("hosts");
        if (hostsNode.absent()) {
            HostConfig fromEnv = hostFromEnvironment(hostsNode);
            if (fromEnv != null) {
                hosts.add(fromEnv);
            }
        } else {
            List<Node> elements = hostsNode.elements();
            if (elements.isEmpty() && hostsNode.isList()) {
                hostsNode.problem("empty (expected: at least one host, or omit hosts for the default from OLLAMA_HOST)");
            }
            Map<String, String> names = new LinkedHashMap<>();
            for (Node element : elements) {
                Node.Mapping h = element.mapping(HOST_KEYS);
                String name = uniqueId(h.get("name"), names, "host name");
                if (h.get("url").absent()) {
                    h.get("url").problem("required (expected: an http or https URL such as http://ollama:11434)");
                }
                URI url = httpUrl(h.get("url"));
                int maxConcurrent = or(h.get("max_concurrent").integer(1, Integer.MAX_VALUE), HostConfig.DEFAULT_MAX_CONCURRENT);
                int weight = or(h.get("weight").integer(1, Integer.MAX_VALUE), 1);
                Map<String, String> headers = headers(h.get("headers"));
                add(hosts, element.path, () -> new HostConfig(name, url, maxConcurrent, weight, headers));
            }
        }
        Duration connect = or(m.get("connect_timeout").duration(false), OllamaConfig.DEFAULT_CONNECT_TIMEOUT);
        Duration request = or(m.get("request_timeout").duration(false), OllamaConfig.DEFAULT_REQUEST_TIMEOUT);
        Duration health = or(m.get("health_check_interval").duration(false), OllamaConfig.DEFAULT_HEALTH_CHECK_INTERVAL);
        Duration sync = or(m.get("model_sync_interval").duration(false), OllamaConfig.DEFAULT_MODEL_SYNC_INTERVAL);
        return build(node.path, () -> new OllamaConfig(hosts, connect, request, health, sync));
    }

    /**
     * The default host, named {@code default}, from {@code OLLAMA_HOST} read the way Ollama's clients read it:
     * {@code [scheme://]host[:port]}; no scheme means http and port 11434, {@code http://} without a port 80,
     * {@code https://} 443; an empty host, {@code 0.0.0.0} or {@code ::} means this machine.
     */
    private HostConfig hostFromEnvironment(Node hostsNode) {
        String raw = ctx.env.getOrDefault("OLLAMA_HOST", "").trim();
        URI url;
        if (raw.isEmpty()) {
            url = URI.create("http://127.0.0.1:11434");
        } else {
            url = parseOllamaHost(raw);
            if (url == null) {
                hostsNode.problem("default host: environment variable OLLAMA_HOST=" + raw
                        + " (expected: [http://|https://]host[:port])");
                return null;
            }
        }
        return new HostConfig("default", url, HostConfig.DEFAULT_MAX_CONCURRENT, 1, Map.of());
    }

    static URI parseOllamaHost(String raw) {
        String scheme = "http";
        String rest = raw;
        int defaultPort = 11434;
        int sep = raw.indexOf("://");
        if (sep >= 0) {
            scheme = raw.substring(0, sep).toLowerCase(Locale.ROOT);
            rest = raw.substring(sep + 3);
            if (scheme.equals("http")) {
                defaultPort = 80;
            } else if (scheme.equals("https")) {
                defaultPort = 443;
            } else {
                return null;
            }
        }
        if (rest.endsWith("/")) {
            rest = rest.substring(0, rest.length() - 1);
        }
        String host;
        String port = null;
        if (rest.startsWith("[")) {
            int close = rest.indexOf(']');
            if (close < 0) {
                return null;
            }
            host = rest.substring(1, close);
            String after = rest.substring(close + 1);
            if (after.startsWith(":")) {
                port = after.substring(1);
            } else if (!after.isEmpty()) {
                return null;
            }
        } else if (rest.indexOf(':') != rest.lastIndexOf(':')) {
            host = rest;
        } else {
            int colon = rest.indexOf(':');
            host = colon < 0 ? rest : rest.substring(0, colon);
            port = colon < 0 ? null : rest.substring(colon + 1);
        }
        if (host.isEmpty() || host.equals("0.0.0.0")) {
            host = "127.0.0.1";
        } else if (host.equals("::")) {
            host = "::1";
        }
        int portNumber = defaultPort;
        if (port != null) {
            if (!port.matches("\\d{1,5}") || Integer.parseInt(port) < 1 || Integer.parseInt(port) > 65535) {
                return null;
            }
            portNumber = Integer.parseInt(port);
        }
        try {
            URI uri = new URI(scheme, null, host, portNumber, null, null, null);
            return uri.getHost() == null ? null : uri;
        } catch (URISyntaxException e) {
            return null;
        }
    }

    // ---------------------------------------------------------------- queue, auth

    private QueueConfig queue(Node node) {
        Node.Mapping m = node.mapping(QUEUE_KEYS);
        TierConfig high = tier(m.get("high"), QueueConfig.DEFAULT_HIGH);
        TierConfig normal = tier(m.get("normal"), QueueConfig.DEFAULT_NORMAL);
        TierConfig low = tier(m.get("low"), QueueConfig.DEFAULT_LOW);
        int overflow = 503;
        Node overflowNode = m.get("overflow_status_code");
        if (!overflowNode.absent()) {
            Integer code = overflowNode.integer(100, 599);
            if (code != null && code != 503 && code != 429) {
                overflowNode.problem(code + " (expected: 503 or 429)");
            } else if (code != null) {
                overflow = code;
            }
        }
        Duration aging = or(m.get("aging").duration(true), QueueConfig.DEFAULT_AGING);
        long maxQueuedBytes = or(m.get("max_queued_bytes").size(), QueueConfig.DEFAULT_MAX_QUEUED_BYTES);
        int overflowCode = overflow;
        return build(node.path, () -> new QueueConfig(high, normal, low, overflowCode, aging, maxQueuedBytes));
    }

    private TierConfig tier(Node node, TierConfig defaults) {
        Node.Mapping m = node.mapping(TIER_KEYS);
        int maxDepth = or(m.get("max_depth").integer(0, Integer.MAX_VALUE), defaults.maxDepth());
        Duration maxWait = or(m.get("max_wait").duration(false), defaults.maxWait());
        return build(node.path, () -> new TierConfig(maxDepth, maxWait));
    }

    private AuthConfig auth(Node node) {
        Node.Mapping m = node.mapping(AUTH_KEYS);
        List<KeyConfig> keys = new ArrayList<>();
        Map<String, String> clientIds = new LinkedHashMap<>();
        Map<String, String> digests = new LinkedHashMap<>();
        List<Node> elements = m.get("keys").elements();
        List<String> unresolved = new ArrayList<>();
        for (Node element : elements) {
            KeyConfig key = key(element, clientIds, digests, unresolved);
            if (key != null) {
                keys.add(key);
            }
        }
        Node enabledNode = m.get("enabled");
        Boolean explicit = enabledNode.bool();
        boolean enabled = explicit == null ? !elements.isEmpty() : explicit;
        if (Boolean.TRUE.equals(explicit) && elements.isEmpty()) {
            enabledNode.problem("true but auth.keys is empty (expected: at least one key)");
            enabled = false;
        }
        Node.Mapping r = m.get("rate_limit").mapping(RATE_LIMIT_KEYS);
        int maxFailures = or(r.get("max_failures").integer(1, Integer.MAX_VALUE), RateLimitConfig.DEFAULT.maxFailures());
        Duration window = or(r.get("window").duration(false), RateLimitConfig.DEFAULT.window());
        RateLimitConfig rateLimit = build(m.get("rate_limit").path, () -> new RateLimitConfig(maxFailures, window));
        boolean on = enabled;
        authFacts = new AuthFacts(on, clientIds.keySet(), digests.keySet(), unresolved.isEmpty());
        return build(node.path, () -> new AuthConfig(on, keys, rateLimit));
    }

    /** One key entry; its path is added to {@code unresolved} when its secret or digest could not be had. */
    private KeyConfig key(Node element, Map<String, String> clientIds, Map<String, String> digests,
            List<String> unresolved) {
        Node.Mapping m = element.mapping(KEY_KEYS);
        if (!element.absent() && !element.json.isObject()) {
            unresolved.add(element.path);
            return null;
        }
        String clientId = uniqueId(m.get("client_id"), clientIds, "client_id");
        List<String> given = new ArrayList<>();
        for (String source : KEY_SOURCES) {
            if (m.has(source)) {
                given.add(source);
            }
        }
        String key = null;
        String digest = null;
        String keyEnv = null;
        Path keyFile = null;
        KeyConfig.Source source = null;
        String sourcePath = null;
        if (given.isEmpty()) {
            element.problem("no key (expected exactly one of: key, key_env, key_file, key_sha256)");
            unresolved.add(element.path);
        } else if (given.size() > 1) {
            element.problem(String.join(", ", given) + " are all set (expected exactly one of: key, key_env, key_file, key_sha256)");
            unresolved.add(element.path);
        } else {
            Node n = m.get(given.get(0));
            sourcePath = n.path;
            switch (given.get(0)) {
                case "key":
                    source = KeyConfig.Source.KEY;
                    key = secret(n, n.string());
                    break;
                case "key_env":
                    source = KeyConfig.Source.KEY_ENV;
                    keyEnv = n.string();
                    if (keyEnv != null) {
                        if (!keyEnv.matches("[A-Za-z_][A-Za-z0-9_]*")) {
                            n.problem(Node.show(keyEnv) + " (expected: an environment variable name)");
                        } else if (ctx.env.get(keyEnv) == null) {
                            n.problem("environment variable " + keyEnv + " is not set");
                        } else if (ctx.env.get(keyEnv).isEmpty()) {
                            n.problem("environment variable " + keyEnv + " is empty");
                        } else {
                            key = secret(n, ctx.env.get(keyEnv));
                        }
                    }
                    break;
                case "key_file":
                    source = KeyConfig.Source.KEY_FILE;
                    keyFile = readablePath(n);
                    if (keyFile != null) {
                        key = secret(n, readKeyFile(n, keyFile));
                    }
                    break;
                default:
                    source = KeyConfig.Source.KEY_SHA256;
                    String hex = n.string();
                    if (hex != null && !HEX64.matcher(hex.trim()).matches()) {
                        n.problem("not a SHA-256 digest (expected: 64 hexadecimal characters)");
                    } else if (hex != null) {
                        digest = hex.trim().toLowerCase(Locale.ROOT);
                    }
                    break;
            }
            if (key != null) {
                digest = KeyConfig.sha256Hex(key);
            }
            if (digest == null) {
                unresolved.add(element.path);
            } else {
                String first = digests.putIfAbsent(digest, element.path);
                if (first != null) {
                    n.problem("same key as " + first + " (expected: a distinct key per client)");
                }
            }
        }
        Tier maxPriority = or(m.get("max_priority").choice(Tier.class), Tier.NORMAL);
        Scope scope = or(m.get("scope").choice(Scope.class), Scope.INFERENCE);
        int maxConcurrent = or(m.get("max_concurrent").integer(0, Integer.MAX_VALUE), 0);
        int requestsPerMinute = or(m.get("requests_per_minute").integer(0, Integer.MAX_VALUE), 0);
        int tokensPerMinute = or(m.get("tokens_per_minute").integer(0, Integer.MAX_VALUE), 0);
        int tokensPerDay = or(m.get("tokens_per_day").integer(0, Integer.MAX_VALUE), 0);
        List<String> models = new ArrayList<>();
        for (Node n : m.get("models").elements()) {
            String glob = n.string();
            if (glob == null && n.absent()) {
                n.problem("expected a model name or glob, got null");
            } else if (glob != null && glob.isBlank()) {
                n.problem("\"\" (expected: a model name or glob such as llama3* or qwen2.5:7b)");
            } else if (glob != null) {
                models.add(glob.trim());
            }
        }
        if (clientId == null || digest == null) {
            return null;
        }
        KeyConfig.Source src = source;
        String k = key;
        String d = digest;
        String env = keyEnv;
        Path file = keyFile;
        return build(sourcePath, () -> new KeyConfig(clientId, src, k, d, env, file, maxPriority, scope,
                maxConcurrent, models, new RateLimits(requestsPerMinute, tokensPerMinute, tokensPerDay)));
    }

    /** Checks a shared secret without ever echoing it. */
    private static String secret(Node node, String value) {
        if (value == null) {
            return null;
        }
        if (value.isEmpty()) {
            node.problem("empty (expected: a secret of at least " + MIN_KEY_LENGTH + " characters)");
            return null;
        }
        if (value.length() < MIN_KEY_LENGTH) {
            node.problem("too short (expected: a secret of at least " + MIN_KEY_LENGTH + " characters)");
            return null;
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c <= 0x20 || c == 0x7f) {
                node.problem("contains whitespace or a control character (expected: a bearer token)");
                return null;
            }
        }
        return value;
    }

    private static String readKeyFile(Node node, Path file) {
        try {
            if (Files.size(file) > MAX_KEY_FILE_BYTES) {
                node.problem(file + " is larger than 64KiB (expected: a file holding one key)");
                return null;
            }
            return Files.readString(file, StandardCharsets.UTF_8).trim();
        } catch (CharacterCodingException e) {
            node.problem(file + " is not UTF-8 text");
        } catch (IOException e) {
            node.problem(file + " cannot be read: " + e.getClass().getSimpleName());
        }
        return null;
    }

    // ---------------------------------------------------------------- the small sections

    private RoutingConfig routing(Node node) {
        Node.Mapping m = node.mapping(ROUTING_KEYS);
        RoutingConfig.Strategy strategy = or(m.get("strategy").choice(RoutingConfig.Strategy.class), RoutingConfig.DEFAULT.strategy());
        RoutingConfig.Fallback fallback = or(m.get("fallback").choice(RoutingConfig.Fallback.class), RoutingConfig.DEFAULT.fallback());
        boolean protectColdLoads = or(m.get("protect_cold_loads").bool(), RoutingConfig.DEFAULT.protectColdLoads());
        return new RoutingConfig(strategy, fallback, protectColdLoads);
    }

    private EmbeddingCacheConfig embeddingCache(Node node) {
        Node.Mapping m = node.mapping(CACHE_KEYS);
        boolean enabled = or(m.get("enabled").bool(), true);
        String backend = EmbeddingCacheConfig.MEMORY;
        Node backendNode = m.get("backend");
        String text = backendNode.string();
        if (text != null) {
            String lower = text.trim().toLowerCase(Locale.ROOT);
            if (lower.equals(EmbeddingCacheConfig.MEMORY)) {
                backend = EmbeddingCacheConfig.MEMORY;
            } else if (lower.startsWith("redis://") || lower.startsWith("rediss://")) {
                String problem = RedisUrls.problem(text.trim());
                if (problem != null) {
                    backendNode.problem(RedisUrls.redact(text.trim()) + ": " + problem
                            + " (expected: redis://[[user]:password@]host[:port][/db])");
                } else {
                    backend = text.trim();
                }
            } else {
                backendNode.problem(Node.show(RedisUrls.redact(text))
                        + " (expected: memory, or a redis:// or rediss:// URL)");
            }
        }
        Duration ttl = or(m.get("ttl").duration(false), Duration.ofHours(24));
        int maxEntries = or(m.get("max_entries").integer(1, Integer.MAX_VALUE), 50_000);
        long maxEntryBytes = or(m.get("max_entry_bytes").size(), 1L << 20);
        long maxMemory = or(m.get("max_memory").size(), 256L << 20);
        Duration timeout = or(m.get("timeout").duration(false), Duration.ofMillis(250));
        String keyPrefix = or(m.get("key_prefix").string(), "oqp:embed:");
        EmbeddingCacheConfig.Partition partition = or(m.get("partition").choice(EmbeddingCacheConfig.Partition.class),
                EmbeddingCacheConfig.Partition.SHARED);
        boolean required = or(m.get("required").bool(), false);
        String b = backend;
        return build(node.path, () -> new EmbeddingCacheConfig(enabled, b, ttl, maxEntries, maxEntryBytes, maxMemory,
                timeout, keyPrefix,
                partition, required));
    }

    private static KeepAliveConfig keepAlive(Node node) {
        Node.Mapping m = node.mapping(KEEP_ALIVE_KEYS);
        Node valueNode = m.get("default");
        String value = or(valueNode.string(), "").trim();
        if (!value.isEmpty() && !value.equals("0") && !value.matches("-?\\d{1,18}") && !GO_DURATION.matcher(value).matches()) {
            valueNode.problem(value + " (expected: a duration such as 10m, 1h30m, -1m or 0, or whole seconds such as 300 or -1)");
            value = "";
        }
        return new KeepAliveConfig(value, or(m.get("override").bool(), false));
    }

    private static AdminConfig admin(Node node) {
        Node.Mapping m = node.mapping(ADMIN_KEYS);
        return new AdminConfig(or(m.get("metrics_public").bool(), false), or(m.get("dashboard").bool(), true));
    }

    private static LoggingConfig logging(Node node) {
        Node.Mapping m = node.mapping(LOGGING_KEYS);
        Node levelNode = m.get("level");
        String level = or(levelNode.string(), "info").trim().toLowerCase(Locale.ROOT);
        if (!LoggingConfig.LEVELS.contains(level)) {
            levelNode.problem(Node.show(level) + " (expected one of: trace, debug, info, warn, error)");
            level = "info";
        }
        return new LoggingConfig(level, or(m.get("format").choice(LoggingConfig.Format.class), LoggingConfig.Format.JSON),
                or(m.get("access_log").bool(), true));
    }

    private SidecarConfig sidecar(Node node) {
        Node.Mapping m = node.mapping(SIDECAR_KEYS);
        int metricsPort = 0;
        Node portNode = m.get("metrics_port");
        if (!portNode.absent()) {
            Integer p = portNode.integer(0, 65535);
            if (p != null && p != 0 && p < 1024) {
                portNode.problem(p + " (expected: 0 or 1024-65535)");
            } else if (p != null && p != 0) {
                claim(p, portNode.path);
                metricsPort = p;
            }
        }
        boolean allowPublic = or(m.get("metrics_allow_public").bool(), false);
        String bind = bindAddress(m.get("metrics_bind"), allowPublic, "metrics_allow_public");
        Duration drain = or(m.get("drain_timeout").duration(false), SidecarConfig.DEFAULT.drainTimeout());
        int port = metricsPort;
        return build(node.path, () -> new SidecarConfig(port, bind, allowPublic, drain));
    }

    // ---------------------------------------------------------------- helpers

    private static <T> T or(T value, T fallback) {
        return value != null ? value : fallback;
    }

    /**
     * Builds a record once its values are bound. With problems already reported a placeholder may be
     * invalid, so a failure is expected and dropped; without, it would be a loader bug and is reported.
     */
    private <T> T build(String path, Supplier<T> constructor) {
        try {
            return constructor.get();
        } catch (IllegalArgumentException | NullPointerException e) {
            if (ctx.problems.isEmpty()) {
                ctx.problem(path, "invalid: " + e.getMessage());
            }
            return null;
        }
    }

    private <T> void add(List<T> list, String path, Supplier<T> constructor) {
        T value = build(path, constructor);
        if (value != null) {
            list.add(value);
        }
    }
}
