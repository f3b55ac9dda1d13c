package dev.oqp.queue.server;

import java.io.IOException;
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
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reloads when the configuration file changes: watches its folder (so that an editor's rename-and-replace, or
 * a Kubernetes ConfigMap's symlink swap, is seen too) for events about the file, waits until they have been
 * quiet for {@value #DEBOUNCE_MILLIS} ms (an editor may write in several steps; at most
 * {@value #MAX_DELAY_MILLIS} ms), and reloads only when the file's content differs from what was last read. One daemon thread; stopped with the server.
 */
final class ConfigWatcher extends AbstractLifeCycle {
    private static final Logger LOG = LoggerFactory.getLogger(ConfigWatcher.class);
    static final long DEBOUNCE_MILLIS = 500;
    /** The longest a change waits for the folder to be quiet. */
    static final long MAX_DELAY_MILLIS = 3000;

    private final Path file;
    private final Runnable reload;
    private WatchService watcher;
    private Thread thread;
    private byte[] lastDigest;

    ConfigWatcher(Path file, Runnable reload) {
        this.file = file.toAbsolutePath();
        this.reload = reload;
    }

    @Override
    protected void doStart() throws IOException {
        lastDigest = digest();
        watcher = FileSystems.getDefault().newWatchService();
        file.getParent().register(watcher, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                StandardWatchEventKinds.ENTRY_DELETE);
        thread = new Thread(this::run, "oqp-config-watch");
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    protected void doStop() throws IOException {
        watcher.close();
        thread.interrupt();
    }

    private void run() {
        try {
            while (true) {
                if (!relevant(watcher.take())) {
                    continue;
                }
                // Debounce: wait until the file has been quiet for a while, but not for ever (a folder
                // written all the time, a log next to the file, must not hold a reload back).
                long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(MAX_DELAY_MILLIS);
                WatchKey more;
                while (System.nanoTime() < deadline
                        && (more = watcher.poll(DEBOUNCE_MILLIS, TimeUnit.MILLISECONDS)) != null) {
                    relevant(more);
                }
                byte[] now = digest();
                if (now != null && !Arrays.equals(now, lastDigest)) {
                    lastDigest = now;
                    LOG.atInfo().addKeyValue("file", file.toString()).log("configuration file changed: reloading");
                    try {
                        reload.run();
                    } catch (RuntimeException e) {
                        LOG.warn("configuration reload failed", e);
                    }
                }
            }
        } catch (InterruptedException | ClosedWatchServiceException e) {
            // stopped
        }
    }

    /**
     * True when {@code key}'s events may concern the file: its own name, or a name starting with {@code ..}
     * (a Kubernetes ConfigMap swaps its {@code ..data} symlink, the file being a link through it). Other
     * files of the folder are ignored. Resets the key.
     */
    private boolean relevant(WatchKey key) {
        boolean relevant = false;
        for (WatchEvent<?> event : key.pollEvents()) {
            if (event.kind() == StandardWatchEventKinds.OVERFLOW || !(event.context() instanceof Path name)
                    || name.equals(file.getFileName()) || name.toString().startsWith("..")) {
                relevant = true;
            }
        }
        key.reset();
        return relevant;
    }

    /** SHA-256 of the file's content, or null while it cannot be read (being replaced). */
    private byte[] digest() {
        try {
            return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file));
        } catch (IOException e) {
            return null;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
