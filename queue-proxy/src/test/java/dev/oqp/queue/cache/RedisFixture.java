package dev.oqp.queue.cache;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

import dev.oqp.common.testing.TestSockets;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A real Valkey or Redis for tests, found in DESIGN.md's order: {@code OQP_TEST_REDIS_URL} when set (used as
 * it is: it cannot be stopped by a test), else a local {@code valkey-server} or {@code redis-server} binary
 * started on a free loopback port with no persistence. Testcontainers is not tried: no Docker engine runs
 * where this project is built, and a local binary serves the same purpose (see docs/architecture.md). When
 * there is none the calling test is skipped with a message, unless {@code OQP_REQUIRE_REDIS=1} (CI), which
 * makes that a failure.
 */
public final class RedisFixture implements AutoCloseable {
    private final String url;
    private final String binary;
    private final int port;
    private Process process;

    private RedisFixture(String url, String binary, int port) {
        this.url = url;
        this.binary = binary;
        this.port = port;
    }

    /** A running server, or the test is skipped (or failed under {@code OQP_REQUIRE_REDIS=1}). */
    public static RedisFixture start() {
        String given = System.getenv("OQP_TEST_REDIS_URL");
        if (given != null && !given.isBlank()) {
            return new RedisFixture(given.trim(), null, -1);
        }
        String binary = find("valkey-server", "redis-server");
        if (binary == null) {
            String message = "no Valkey/Redis for this test: set OQP_TEST_REDIS_URL or install valkey-server or"
                    + " redis-server";
            if ("1".equals(System.getenv("OQP_REQUIRE_REDIS"))) {
                Assertions.fail(message + " (OQP_REQUIRE_REDIS=1)");
            }
            Assumptions.abort(message);
        }
        // Picked before the server binds it: redis-server cannot bind port 0 (--port 0 turns TCP off).
        int port = TestSockets.freePort();
        RedisFixture fixture = new RedisFixture("redis://127.0.0.1:" + port + "/0", binary, port);
        fixture.restart();
        return fixture;
    }

    private static String find(String... names) {
        String path = System.getenv("PATH");
        for (String name : names) {
            for (String dir : (path == null ? "/usr/bin:/usr/local/bin" : path + ":/usr/sbin").split(File.pathSeparator)) {
                File candidate = new File(dir, name);
                if (candidate.canExecute()) {
                    return candidate.getPath();
                }
            }
        }
        return null;
    }

    /** {@code redis://127.0.0.1:port/0}, or the given URL. */
    public String url() {
        return url;
    }

    /** True when this fixture runs the server itself (and can stop and restart it). */
    public boolean controllable() {
        return binary != null;
    }

    /** Kills the server (as a crash would: no shutdown handshake). */
    public void kill() {
        if (process != null) {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            process = null;
        }
    }

    /** (Re)starts the server on the same port and waits until it answers PING. */
    public void restart() {
        if (binary == null) {
            return;
        }
        kill();
        try {
            process = new ProcessBuilder(List.of(binary, "--port", Integer.toString(port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning",
                    // DEBUG SLEEP makes a slow server for a test (Redis 7 and Valkey refuse DEBUG by default).
                    "--enable-debug-command", "local"))
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
        } catch (IOException e) {
            throw new IllegalStateException("could not start " + binary, e);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            if (ping()) {
                return;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        throw new IllegalStateException(binary + " did not answer on port " + port);
    }

    /** Sends one inline command and returns the first line of the answer. */
    public String command(String inline) throws IOException {
        URI uri = URI.create(url);
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(uri.getHost(), uri.getPort() < 0 ? 6379 : uri.getPort()), 1000);
            socket.setSoTimeout(2000);
            OutputStream out = socket.getOutputStream();
            out.write((inline + "\r\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = socket.getInputStream();
            StringBuilder line = new StringBuilder();
            int c;
            while ((c = in.read()) >= 0 && c != '\n') {
                if (c != '\r') {
                    line.append((char) c);
                }
            }
            return line.toString();
        }
    }

    private boolean ping() {
        try {
            return command("PING").equals("+PONG");
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void close() {
        kill();
    }
}
