package dev.oqp.queue.auth;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import dev.oqp.common.config.AuthConfig;
import dev.oqp.common.config.InetLiterals;
import dev.oqp.common.config.KeyConfig;

/**
 * Warnings about the {@code auth:} section, logged once at start. They name client ids, paths and addresses,
 * never a key or its digest.
 */
public final class AuthWarnings {

    private AuthWarnings() {
    }

    /** All of {@link #keyFiles} and {@link #disabledBeyondLoopback}, in that order. */
    public static List<String> all(AuthConfig auth, String listenHost) {
        List<String> warnings = new ArrayList<>(keyFiles(auth));
        disabledBeyondLoopback(auth, listenHost).ifPresent(warnings::add);
        return warnings;
    }

    /**
     * One warning per {@code key_file} that its group or others may read (POSIX permissions). Files on file systems
     * without POSIX permissions, and files that can no longer be inspected, are skipped silently.
     */
    public static List<String> keyFiles(AuthConfig auth) {
        List<String> warnings = new ArrayList<>();
        for (KeyConfig key : auth.keys()) {
            if (key.keyFile() == null) {
                continue;
            }
            Set<PosixFilePermission> permissions;
            try {
                permissions = Files.getPosixFilePermissions(key.keyFile());
            } catch (UnsupportedOperationException | IOException | SecurityException e) {
                continue;
            }
            boolean group = permissions.contains(PosixFilePermission.GROUP_READ);
            boolean others = permissions.contains(PosixFilePermission.OTHERS_READ);
            if (group || others) {
                String who = group && others ? "group and others" : group ? "group" : "others";
                warnings.add("auth.keys[" + key.clientId() + "].key_file: " + key.keyFile() + " is readable by "
                        + who + " (expected: owner only, e.g. chmod 600)");
            }
        }
        return warnings;
    }

    /**
     * A warning when authentication is disabled and the proxy listens beyond loopback ({@code listenHost} is not
     * {@code localhost} or a 127.0.0.0/8 or {@code ::1} literal): anyone who can reach the port is the anonymous
     * client with management scope.
     */
    public static Optional<String> disabledBeyondLoopback(AuthConfig auth, String listenHost) {
        return disabledBeyondLoopback(auth, "proxy.host", listenHost);
    }

    /** As {@link #disabledBeyondLoopback(AuthConfig, String)} for any listener; {@code setting} names it in the message. */
    public static Optional<String> disabledBeyondLoopback(AuthConfig auth, String setting, String listenHost) {
        if (auth.enabled() || InetLiterals.isLoopback(listenHost)) {
            return Optional.empty();
        }
        return Optional.of("auth is disabled and " + setting + " " + listenHost
                + " is not a loopback address: anyone who can reach it may run, pull and delete models"
                + " (expected: auth.keys, or a loopback host)");
    }
}
