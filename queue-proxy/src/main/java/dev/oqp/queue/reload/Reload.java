package dev.oqp.queue.reload;

import java.util.List;

/**
 * What a reload did: {@code applied} false when the new file had problems (listed; nothing changed);
 * {@code restartNeeded} names the changed settings that only a restart applies (they keep their running
 * values); {@code changed} names the sections that changed live.
 */
public record Reload(boolean applied, List<String> problems, List<String> restartNeeded, List<String> changed) {
}
