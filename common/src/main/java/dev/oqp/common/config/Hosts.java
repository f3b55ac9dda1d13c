package dev.oqp.common.config;

import static dev.oqp.common.config.Values.or;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Where requests go: binds {@code ollama.hosts[]}, falls back to the one host that {@code OLLAMA_HOST} names,
 * and holds the rule every upstream URL follows (http or https, scheme, host and port only). Messages never
 * show a URL's path or query: they may carry a secret.
 */
final class Hosts {

    /** The keys of a host. */
    enum Key { NAME, URL, MAX_CONCURRENT, WEIGHT, HEADERS, MODELS, PRELOAD }

    /** {@code host}, {@code host:port} or {@code [v6]:port} without a scheme. */
    private static final Pattern HOST_PORT_ONLY =
            Pattern.compile("(?:[A-Za-z0-9][A-Za-z0-9.-]*|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]{1,5})?");
    /** The port OLLAMA_HOST means when it names none and no scheme. */
    private static final int OLLAMA_PORT = 11434;

    private Hosts() {
    }

    /** {@code ollama.hosts}; when absent, the default host from {@code OLLAMA_HOST}. */
    static List<HostConfig> bind(Node hostsNode, Binding b) {
        List<HostConfig> hosts = new ArrayList<>();
        if (hostsNode.absent()) {
            HostConfig fromEnv = fromEnvironment(hostsNode);
            if (fromEnv != null) {
                hosts.add(fromEnv);
            }
            return hosts;
        }
        List<Node> elements = hostsNode.elements();
        if (elements.isEmpty() && hostsNode.isList()) {
            hostsNode.problem("empty (expected: at least one host, or omit hosts for the default from OLLAMA_HOST)");
        }
        Map<String, String> names = new LinkedHashMap<>();
        for (Node element : elements) {
            Node.Mapping<Key> h = element.mapping(Key.class);
            String name = Values.uniqueId(h.get(Key.NAME), names, "host name");
            if (h.get(Key.URL).absent()) {
                h.get(Key.URL).problem("required (expected: an http or https URL such as http://ollama:11434)");
            }
            URI url = httpUrl(h.get(Key.URL));
            int maxConcurrent = or(h.get(Key.MAX_CONCURRENT).integer(1, Integer.MAX_VALUE),
                    HostConfig.DEFAULT_MAX_CONCURRENT);
            int weight = or(h.get(Key.WEIGHT).integer(1, Integer.MAX_VALUE), HostConfig.DEFAULT_WEIGHT);
            Map<String, String> headers = Values.headers(h.get(Key.HEADERS));
            Map<String, ModelConfig> models = ModelsBinder.hostModels(h.get(Key.MODELS));
            List<String> preload = ModelsBinder.preload(h.get(Key.PRELOAD));
            b.add(hosts, element.path, () -> new HostConfig(name, url, maxConcurrent, weight, headers, models, preload));
        }
        return hosts;
    }

    /**
     * The default host, named {@code default}, from {@code OLLAMA_HOST} read the way Ollama's clients read it
     * (see {@link #parseOllamaHost}); unset or empty means {@link OllamaConfig#DEFAULT_HOST_URL}.
     */
    private static HostConfig fromEnvironment(Node hostsNode) {
        String raw = hostsNode.ctx.env.getOrDefault("OLLAMA_HOST", "").trim();
        URI url;
        if (raw.isEmpty()) {
            url = OllamaConfig.DEFAULT_HOST_URL;
        } else {
            url = parseOllamaHost(raw);
            if (url == null) {
                hostsNode.problem("default host: environment variable OLLAMA_HOST=" + raw
                        + " (expected: [http://|https://]host[:port])");
                return null;
            }
        }
        return new HostConfig(OllamaConfig.DEFAULT_HOST_NAME, url, HostConfig.DEFAULT_MAX_CONCURRENT,
                HostConfig.DEFAULT_WEIGHT, Map.of());
    }

    /**
     * {@code [scheme://]host[:port]} as Ollama's clients read it: no scheme means http and port 11434,
     * {@code http://} without a port 80, {@code https://} 443; an empty host, {@code 0.0.0.0} or {@code ::} means
     * this machine. {@code null} when it cannot be read.
     */
    static URI parseOllamaHost(String raw) {
        String scheme = "http";
        String rest = raw;
        int defaultPort = OLLAMA_PORT;
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

    /** An absolute http(s) URL naming only scheme, host and port; normalised to a lowercase scheme and no path. */
    static URI httpUrl(Node node) {
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
}
