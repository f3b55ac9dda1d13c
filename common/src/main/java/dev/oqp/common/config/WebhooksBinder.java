package dev.oqp.common.config;

import static dev.oqp.common.config.Values.or;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Binds {@code webhooks:}. URLs are checked for form here (http or https with a host, no user info); whether
 * they name a private address is decided at start-up by the queue proxy, which resolves them.
 */
final class WebhooksBinder {

    /** The keys of {@code webhooks:}. */
    enum Key { ENDPOINTS, SECRET, ALLOWED_HOSTS, QUEUE_SIZE, TIMEOUT, RETRIES }

    /** The keys of one {@code webhooks.endpoints[]} entry. */
    enum EndpointKey { URL, EVENTS, SECRET }

    private WebhooksBinder() {
    }

    static WebhooksConfig bind(Node node, Binding b) {
        Node.Mapping<Key> m = node.mapping(Key.class);
        List<WebhooksConfig.Endpoint> endpoints = new ArrayList<>();
        for (Node element : m.get(Key.ENDPOINTS).elements()) {
            endpoint(element, endpoints, b);
        }
        String secret = secret(m.get(Key.SECRET));
        List<String> allowed = new ArrayList<>();
        for (Node n : m.get(Key.ALLOWED_HOSTS).elements()) {
            String host = n.string();
            if (host == null || host.isBlank()) {
                n.problem("expected a host name");
            } else {
                allowed.add(host.trim().toLowerCase(Locale.ROOT));
            }
        }
        int queueSize = or(m.get(Key.QUEUE_SIZE).integer(1, 1_000_000), WebhooksConfig.DEFAULT_QUEUE_SIZE);
        Duration timeout = or(m.get(Key.TIMEOUT).duration(false), WebhooksConfig.DEFAULT_TIMEOUT);
        int retries = or(m.get(Key.RETRIES).integer(0, 10), WebhooksConfig.DEFAULT_RETRIES);
        return b.build(node.path, () -> new WebhooksConfig(endpoints, secret, allowed, queueSize, timeout, retries));
    }

    private static void endpoint(Node element, List<WebhooksConfig.Endpoint> endpoints, Binding b) {
        Node.Mapping<EndpointKey> m = element.mapping(EndpointKey.class);
        Node urlNode = m.get(EndpointKey.URL);
        String url = urlNode.string();
        if (urlNode.absent()) {
            urlNode.problem("required");
        } else if (url != null) {
            url = url.trim();
            String why = urlProblem(url);
            if (why != null) {
                urlNode.problem(why);
                url = null;
            }
        }
        Node eventsNode = m.get(EndpointKey.EVENTS);
        List<String> events = new ArrayList<>();
        for (Node n : eventsNode.elements()) {
            String event = n.string();
            if (event != null && !WebhooksConfig.EVENTS.contains(event.trim())) {
                n.problem(Node.show(event) + " (expected one of: " + String.join(", ", WebhooksConfig.EVENTS) + ")");
            } else if (event != null) {
                events.add(event.trim());
            }
        }
        if (eventsNode.absent()) {
            events.addAll(WebhooksConfig.DEFAULT_EVENTS);
        }
        String secret = secret(m.get(EndpointKey.SECRET));
        String u = url;
        if (u != null) {
            b.add(endpoints, element.path, () -> new WebhooksConfig.Endpoint(u, events, secret));
        }
    }

    /** Why {@code url} cannot be a webhook target, or {@code null}; never echoes user info. */
    static String urlProblem(String url) {
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            return "not a URL (expected: http://host[:port]/path or https://…)";
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            return "scheme must be http or https";
        }
        if (uri.getRawUserInfo() != null) {
            return "must not carry user info (put a token in webhooks.secret instead)";
        }
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            return "has no host name";
        }
        return null;
    }

    /** A signing key: at least 16 characters, no whitespace; never echoed. */
    private static String secret(Node node) {
        String secret = node.string();
        if (secret == null) {
            return null;
        }
        if (secret.length() < 16 || secret.chars().anyMatch(Character::isWhitespace)) {
            node.problem("expected at least 16 characters without whitespace (value not shown)");
            return null;
        }
        return secret;
    }
}
