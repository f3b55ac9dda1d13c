package dev.oqp.queue.auth;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Who a request is by its {@code X-Client-ID} when authentication is disabled, as in the Python tool: the id
 * names the client for fairness, caps, usage, metric labels and the access log. Bounded, since the header is
 * the caller's word: the ids the configuration names ({@code auth.keys[].client_id}, {@code services[].client})
 * always stand for themselves; of the other ids, the first {@code auth.max_header_clients} distinct ones, in the
 * order seen, get an identity each, and every later one shares the pooled identity {@link #POOLED}. An id that
 * is not {@code [A-Za-z0-9._-]{1,64}} is ignored (the request is anonymous), so a label or a log line never
 * holds anything else.
 *
 * <p>The ids seen are kept for the life of the process (a reload keeps them; a smaller bound pools the ids past
 * it). Thread-safe.
 */
public final class HeaderClients {
    /** The identity every header id past the bound shares. */
    public static final String POOLED = "other";
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    /** Ids not named in the configuration, in the order first seen; at most the largest bound in force so far. */
    private final List<String> seen = new ArrayList<>();
    /** Each id of {@link #seen} to its position there. */
    private final Map<String, Integer> positions = new HashMap<>();
    /** True once an id was pooled. */
    private boolean pooled;

    /**
     * The client id {@code header} stands for, or null when it names nobody (absent, not an id, or
     * {@code maxHeaderClients} is 0).
     *
     * @param configured the ids the configuration names
     */
    public String resolve(String header, Set<String> configured, int maxHeaderClients) {
        if (maxHeaderClients == 0 || header == null || !ID.matcher(header).matches()) {
            return null;
        }
        if (configured.contains(header)) {
            return header;
        }
        synchronized (seen) {
            Integer at = positions.get(header);
            if (at == null && seen.size() < maxHeaderClients) {
                positions.put(header, seen.size());
                seen.add(header);
                return header;
            }
            if (at != null && at < maxHeaderClients) {
                return header;
            }
            pooled = true;
            return POOLED;
        }
    }

    /** The identities header ids were given so far under this bound, {@link #POOLED} included once used. */
    public Set<String> identities(int maxHeaderClients) {
        synchronized (seen) {
            Set<String> ids = new LinkedHashSet<>(seen.subList(0, Math.min(seen.size(), maxHeaderClients)));
            if (pooled || seen.size() > maxHeaderClients) {
                ids.add(POOLED);
            }
            return ids;
        }
    }
}
