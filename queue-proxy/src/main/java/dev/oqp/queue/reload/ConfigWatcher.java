package dev.oqp.queue.reload;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reloads when the configuration file, or a file it reads a key from ({@code auth.keys[].key_file}), changes:
 * watches their folders (so that an editor's rename-and-replace, or a Kubernetes ConfigMap's or Secret's
 * symlink swap, is seen too) for events about those files, waits until they have been quiet for
 * {@value #DEBOUNCE_MILLIS} ms (an editor may write in several steps; at most {@value #MAX_DELAY_MILLIS} ms),
 * and reloads only when their content differs from what was last read. Other files of the folders are
 * ignored. One daemon thread; stopped with the server.
 */
final class ConfigWatcher extends AbstractLifeCycle {
    private static final Logger LOG = LoggerFactory.getLogger(ConfigWatcher.class);
    static final long DEBOUNCE_MILLIS = 500;
    /** The longest a change waits for the folder to be quiet. */
    static final long MAX_DELAY_MILLIS = 3000;

    private final Path file;
    private final Supplier<List<Path>> keyFiles;
    private final Runnable reload;
    private final Map<Path, WatchKey> folders = new HashMap<>();
    private volatile Set<Path> watched = Set.of();
    private WatchService watcher;
    private Thread thread;
    private byte[] lastDigest;
    private boolean reportedGone;

    /**
     * @param keyFiles the key files of the configuration in force (read again after each reload)
     */
    ConfigWatcher(Path file, Supplier<List<Path>> keyFiles, Runnable reload) {
        this.file = file.toAbsolutePath();
        this.keyFiles = keyFiles;
        this.reload = reload;
    }

    @Override
    protected void doStart() throws IOException {
        watcher = FileSystems.getDefault().newWatchService();
        refresh();
        lastDigest = digest();
        thread = new Thread(this::run, "oqp-config-watch");
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    protected void doStop() throws IOException {
        watcher.close();
        thread.interrupt();
    }

    /** Watches the folders of the config file and of the key files in force. */
    private void refresh() throws IOException {
        Set<Path> files = new LinkedHashSet<>();
        files.add(file);
        for (Path keyFile : keyFiles.get()) {
            files.add(keyFile.toAbsolutePath());
        }
        for (Path f : files) {
            Path folder = f.getParent();
            if (folder != null && !folders.containsKey(folder)) {
                folders.put(folder, folder.register(watcher, StandardWatchEventKinds.ENTRY_CREATE,
                        StandardWatchEventKinds.ENTRY_MODIFY, StandardWatchEventKinds.ENTRY_DELETE));
            }
        }
        watched = Collections.unmodifiableSet(files);
    }

    private void run() {
        try {
            while (true) {
                if (!relevant(watcher.take())) {
                    continue;
                }
                // Debounce: wait until the files have been quiet for a while, but not for ever (a folder
                // written all the time must not hold a reload back).
                long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(MAX_DELAY_MILLIS);
                WatchKey more;
                while (System.nanoTime() < deadline
                        && (more = watcher.poll(DEBOUNCE_MILLIS, TimeUnit.MILLISECONDS)) != null) {
                    relevant(more);
                }
                byte[] now = digest();
                if (now == null) {
                    if (!reportedGone) {
                        reportedGone = true;
                        LOG.atWarn().addKeyValue("file", file.toString()).log("configuration file cannot be read (removed?):"
                                + " the proxy keeps running on the configuration it has");
                    }
                    continue;
                }
                reportedGone = false;
                if (!Arrays.equals(now, lastDigest)) {
                    LOG.atInfo().addKeyValue("file", file.toString()).log("configuration changed: reloading");
                    try {
                        reload.run();
                    } catch (RuntimeException e) {
                        LOG.warn("configuration reload failed", e);
                    }
                    try {
                        refresh();
                    } catch (IOException e) {
                        LOG.atWarn().addKeyValue("reason", e.toString()).log("cannot watch a key file's folder");
                    }
                    lastDigest = digest();
                }
            }
        } catch (InterruptedException | ClosedWatchServiceException e) {
            // stopped
        }
    }

    /**
     * True when {@code key}'s events may concern a watched file: its own name, or a name starting with
     * {@code ..} (a Kubernetes ConfigMap or Secret swaps its {@code ..data} symlink, the file being a link
     * through it). Resets the key.
     */
    private boolean relevant(WatchKey key) {
        boolean relevant = false;
        Path folder = key.watchable() instanceof Path p ? p : null;
        for (WatchEvent<?> event : key.pollEvents()) {
            if (event.kind() == StandardWatchEventKinds.OVERFLOW || !(event.context() instanceof Path name)
                    || name.toString().startsWith("..") || folder == null
                    || watched.contains(folder.resolve(name))) {
                relevant = true;
            }
        }
        key.reset();
        return relevant;
    }

    /**
     * SHA-256 over the watched files' names and contents (a key file that cannot be read counts as its own
     * state: the reload reports it), or null while the config file cannot be read (being replaced, removed).
     */
    private byte[] digest() {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        List<Path> files = new ArrayList<>(watched);
        for (Path f : files) {
            sha.update(f.toString().getBytes(StandardCharsets.UTF_8));
            try {
                sha.update(Files.readAllBytes(f));
            } catch (IOException e) {
                if (f.equals(file)) {
                    return null;
                }
                sha.update((byte) 0);
            }
        }
        return sha.digest();
    }
}
