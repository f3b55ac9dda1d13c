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
import org.yaml.snakeyaml.error.Mark;
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
    enum Key { SERVICES, PROXY, OLLAMA, QUEUE, AUTH, ROUTING, EMBEDDING_CACHE, KEEP_ALIVE, ADMIN, LOGGING, SIDECAR, WEBHOOKS, COORDINATION }

    private ConfigLoader() {
    }

    /** Reads and validates {@code file}; a missing or unreadable file is a single problem. */
    public static OqpConfig load(Path file, Target target, Map<String, String> env) throws ConfigException {
        return read(file, target, env).config();
    }

    /**
     * {@link #load}, with the notes of its reading ({@link LoadedConfig}), for the binary to log once at start.
     */
    public static LoadedConfig read(Path file, Target target, Map<String, String> env) throws ConfigException {
        return bind(readText(file), new Binding(target, env, baseDir(file)), Mode.LOAD).loaded();
    }

    /**
     * The oqp YAML equivalent of {@code file}, a file in the Python tool's schema, with the notes as comments
     * at the top: the translated tree as written ({@code ${VAR}} references, {@code key_env} and
     * {@code key_file} stay as they are; no environment override is applied), validated first. A file with
     * only keys both schemas share is read as the Python tool read it.
     */
    public static String migrate(Path file, Map<String, String> env) throws ConfigException {
        Bound loaded = bind(readText(file), new Binding(Target.QUEUE_PROXY, env, baseDir(file)), Mode.MIGRATE);
        StringBuilder out = new StringBuilder();
        out.append("# Converted from ").append(file).append(" (the Python ollama-queue-proxy's schema) by")
                .append(" ollama-queue-proxy migrate-config.\n");
        for (String note : loaded.schema().notes()) {
            out.append("# ").append(note.replace("\n", " ")).append('\n');
        }
        return out.append(YamlTree.write(loaded.schema().tree())).toString();
    }

    private static Path baseDir(Path file) {
        Path dir = file.toAbsolutePath().normalize().getParent();
        return dir == null ? cwd() : dir;
    }

    private static String readText(Path file) throws ConfigException {
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
        return yaml;
    }

    /** Validates YAML text; an empty text or one of only comments gives all defaults. */
    public static OqpConfig parse(String yaml, Target target, Map<String, String> env) throws ConfigException {
        return bind(yaml, new Binding(target, env, cwd()), Mode.LOAD).config();
    }

    /** The embedded defaults used when no file is given (the sidecar gets a problem: it needs services). */
    public static OqpConfig defaults(Target target, Map<String, String> env) throws ConfigException {
        return parse("", target, env);
    }

    /** {@link #defaults} as {@link #read} returns it. */
    public static LoadedConfig readDefaults(Target target, Map<String, String> env) throws ConfigException {
        return bind("", new Binding(target, env, cwd()), Mode.LOAD).loaded();
    }

    /** A bound configuration with the notes and the tree it was bound from. */
    private record Bound(OqpConfig config, Schema schema) {
        LoadedConfig loaded() {
            return new LoadedConfig(config, schema.notes(), schema.attention(), schema.translated());
        }
    }

    /** How a text is read: as a binary loads it (overrides applied), or as migrate-config converts it. */
    private enum Mode { LOAD, MIGRATE }

    private static Path cwd() {
        return Path.of("").toAbsolutePath();
    }

    private static Bound bind(String yaml, Binding b, Mode mode) throws ConfigException {
        JsonNode tree;
        try {
            tree = YamlTree.read(yaml);
        } catch (JacksonException e) {
            throw new ConfigException(List.of(syntaxProblem(e)));
        } catch (IOException e) {
            throw new ConfigException(List.of("top level: cannot read: " + e.getMessage()));
        }
        if (!tree.isMissingNode() && !tree.isNull() && !tree.isObject()) {
            throw new ConfigException(List.of("top level: expected a map of sections, got " + Node.kind(tree)));
        }
        Schema schema = Schema.read(tree, b.ctx.env, mode == Mode.MIGRATE);
        b.ctx.problems.addAll(schema.problems());
        b.ctx.origins(schema.origins());
        OqpConfig config = bind(new Node(b.ctx, schema.tree(), ""), b);
        if (!b.ctx.problems.isEmpty()) {
            if (schema.recognition().mixed()) {
                b.ctx.problems.add(Schema.mixedLine(schema.recognition()));
            }
            throw new ConfigException(b.ctx.problems);
        }
        return new Bound(config, schema);
    }

    private static OqpConfig bind(Node root, Binding b) {
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
        CoordinationConfig coordination = CoordinationBinder.bind(m.get(Key.COORDINATION), b);
        b.checks.serviceIdentities();
        if (proxy != null && ollama != null && queue != null && auth != null) {
            ReserveCheck.check(b.ctx, proxy, ollama, queue, auth);
        }
        b.ctx.requireEveryKeyBound();
        if (!b.ctx.problems.isEmpty()) {
            return null; // a section may be missing: the caller reports the problems
        }
        return new OqpConfig(services, proxy, ollama, queue, auth, routing, cache, keepAlive, admin, logging, sidecar,
                webhooks, coordination);
    }

    /**
     * The parser's problem on one line, with its line and column (its message goes on to quote the file). For
     * SnakeYAML's errors the position is its problem mark, and the context mark says where the construct it was
     * reading began: Jackson's own location is the last token it read, which may be lines earlier (a tab used
     * for indentation was reported on the line before it, an unterminated quote where the value began).
     */
    private static String syntaxProblem(JacksonException e) {
        String message = e.getOriginalMessage();
        String where = null;
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof MarkedYAMLException) {
                MarkedYAMLException marked = (MarkedYAMLException) t;
                Mark problem = marked.getProblemMark();
                Mark context = marked.getContextMark();
                String started = context == null || problem == null || context.getLine() == problem.getLine()
                        ? "" : " started at line " + (context.getLine() + 1) + ", column " + (context.getColumn() + 1);
                message = marked.getProblem() + (marked.getContext() == null ? "" : " (" + marked.getContext() + started + ")");
                where = problem == null ? null : "line " + (problem.getLine() + 1) + ", column " + (problem.getColumn() + 1) + ": ";
                break;
            }
        }
        message = message == null ? e.getClass().getSimpleName() : message.lines().findFirst().orElse("").trim();
        JsonLocation at = e.getLocation();
        if (where == null) {
            where = at == null ? "" : "line " + at.getLineNr() + ", column " + at.getColumnNr() + ": ";
        }
        return "YAML syntax error: " + where + message;
    }
}
