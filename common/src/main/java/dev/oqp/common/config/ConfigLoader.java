package dev.oqp.common.config;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.databind.JsonNode;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * Loads the one configuration file of both binaries: YAML, environment interpolation of every string
 * value, then hand binding with every problem collected ({@link ConfigException}) before any port is
 * bound. Relative {@code key_file} and {@code ca_file} paths are resolved against the config file's
 * directory ({@link #load}) or the working directory ({@link #parse}, {@link #defaults}).
 * See {@code docs/configuration.md} for every key and rule.
 *
 * <p>Each section has its binder ({@code *Binder}, {@link Hosts}) declaring its keys as an enum; the rules
 * spanning sections are {@link CrossChecks}.
 */
public final class ConfigLoader {

    /** The sections of the file; bound in this order, so their problems come in this order. */
    enum Key { SERVICES, PROXY, OLLAMA, QUEUE, AUTH, ROUTING, EMBEDDING_CACHE, KEEP_ALIVE, ADMIN, LOGGING, SIDECAR, WEBHOOKS }

    private ConfigLoader() {
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
        return bind(yaml, new Binding(target, env, dir == null ? cwd() : dir));
    }

    /** Validates YAML text; an empty text or one of only comments gives all defaults. */
    public static OqpConfig parse(String yaml, Target target, Map<String, String> env) throws ConfigException {
        return bind(yaml, new Binding(target, env, cwd()));
    }

    /** The embedded defaults used when no file is given (the sidecar gets a problem: it needs services). */
    public static OqpConfig defaults(Target target, Map<String, String> env) throws ConfigException {
        return parse("", target, env);
    }

    private static Path cwd() {
        return Path.of("").toAbsolutePath();
    }

    private static OqpConfig bind(String yaml, Binding b) throws ConfigException {
        JsonNode tree;
        try {
            tree = YamlTree.read(yaml);
        } catch (JacksonException e) {
            throw new ConfigException(List.of(syntaxProblem(e)));
        } catch (IOException e) {
            throw new ConfigException(List.of("top level: cannot read: " + e.getMessage()));
        }
        Node root = new Node(b.ctx, tree, "");
        if (!root.absent() && !tree.isObject()) {
            throw new ConfigException(List.of("top level: expected a map of sections, got " + Node.kind(tree)));
        }
        Node.Mapping<Key> m = root.mapping(Key.class);
        List<ServiceConfig> services = ServiceBinder.bind(m.get(Key.SERVICES), b);
        ProxyConfig proxy = ProxyBinder.bind(m.get(Key.PROXY), b);
        OllamaConfig ollama = OllamaBinder.bind(m.get(Key.OLLAMA), b);
        QueueConfig queue = QueueBinder.bind(m.get(Key.QUEUE), b);
        AuthConfig auth = AuthBinder.bind(m.get(Key.AUTH), b);
        RoutingConfig routing = RoutingBinder.bind(m.get(Key.ROUTING));
        EmbeddingCacheConfig cache = EmbeddingCacheBinder.bind(m.get(Key.EMBEDDING_CACHE), b);
        KeepAliveConfig keepAlive = KeepAliveBinder.bind(m.get(Key.KEEP_ALIVE));
        AdminConfig admin = AdminBinder.bind(m.get(Key.ADMIN));
        LoggingConfig logging = LoggingBinder.bind(m.get(Key.LOGGING));
        SidecarConfig sidecar = SidecarBinder.bind(m.get(Key.SIDECAR), b);
        WebhooksConfig webhooks = WebhooksBinder.bind(m.get(Key.WEBHOOKS), b);
        b.checks.serviceIdentities();
        b.ctx.requireEveryKeyBound();
        if (!b.ctx.problems.isEmpty()) {
            throw new ConfigException(b.ctx.problems);
        }
        return new OqpConfig(services, proxy, ollama, queue, auth, routing, cache, keepAlive, admin, logging, sidecar,
                webhooks);
    }

    /** The parser's problem on one line, with its line and column (its message goes on to quote the file). */
    private static String syntaxProblem(JacksonException e) {
        String message = e.getOriginalMessage();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof MarkedYAMLException) {
                MarkedYAMLException marked = (MarkedYAMLException) t;
                message = marked.getProblem() + (marked.getContext() == null ? "" : " (" + marked.getContext() + ")");
                break;
            }
        }
        message = message == null ? e.getClass().getSimpleName() : message.lines().findFirst().orElse("").trim();
        JsonLocation at = e.getLocation();
        String where = at == null ? "" : "line " + at.getLineNr() + ", column " + at.getColumnNr() + ": ";
        return "YAML syntax error: " + where + message;
    }
}
