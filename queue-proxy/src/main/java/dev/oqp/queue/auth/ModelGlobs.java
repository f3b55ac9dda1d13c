package dev.oqp.queue.auth;

import java.util.List;
import java.util.Locale;

/**
 * Model allow-list matching ({@code auth.keys[].models}).
 *
 * <p>The rule: a glob is compared with the whole normalised model name ({@code name:tag}, for example
 * {@code llama3:latest}), ignoring case. {@code *} matches any run of characters, including none and including
 * {@code :} and {@code /}; {@code ?} matches exactly one character; every other character matches itself. A glob
 * without a {@code :} is written the way Ollama lets a model be named without its tag, so it also matches when
 * {@code :latest} is appended to it: {@code llama3} allows {@code llama3:latest} but not {@code llama3:70b}, while
 * {@code llama3*} and {@code llama3:*} allow every tag. An empty list allows every model.
 */
public final class ModelGlobs {

    private static final String DEFAULT_TAG = ":latest";

    private ModelGlobs() {
    }

    /** True when {@code globs} is empty or any glob matches {@code normalisedModelName} by the rule above. */
    public static boolean allows(List<String> globs, String normalisedModelName) {
        if (globs.isEmpty()) {
            return true;
        }
        for (String glob : globs) {
            if (matches(glob, normalisedModelName)) {
                return true;
            }
        }
        return false;
    }

    /** True when one glob matches {@code normalisedModelName} by the rule above. */
    public static boolean matches(String glob, String normalisedModelName) {
        String g = glob.toLowerCase(Locale.ROOT);
        String name = normalisedModelName.toLowerCase(Locale.ROOT);
        return wildcard(g, name) || (g.indexOf(':') < 0 && wildcard(g + DEFAULT_TAG, name));
    }

    /** Iterative wildcard match; backtracks only to the most recent {@code *}, so it stays O(glob x text). */
    private static boolean wildcard(String glob, String text) {
        int g = 0;
        int t = 0;
        int star = -1;
        int starText = 0;
        while (t < text.length()) {
            if (g < glob.length() && (glob.charAt(g) == '?' || glob.charAt(g) == text.charAt(t))) {
                g++;
                t++;
            } else if (g < glob.length() && glob.charAt(g) == '*') {
                star = g++;
                starText = t;
            } else if (star >= 0) {
                g = star + 1;
                t = ++starText;
            } else {
                return false;
            }
        }
        while (g < glob.length() && glob.charAt(g) == '*') {
            g++;
        }
        return g == glob.length();
    }
}
