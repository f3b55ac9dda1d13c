package dev.oqp.queue.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

import dev.oqp.common.config.AuthConfig;
import dev.oqp.common.config.KeyConfig;
import dev.oqp.common.config.RateLimitConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuthWarningsTest {

    private static final String SECRET = "file-secret-0123456789abcdef";

    @TempDir
    Path dir;

    private Path keyFile(String name, String permissions) throws IOException {
        assumeTrue(FileSystems.getDefault().supportedFileAttributeViews().contains("posix"));
        Path file = Files.writeString(dir.resolve(name), SECRET + "\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(permissions));
        return file;
    }

    private static AuthConfig auth(Path... files) {
        List<KeyConfig> keys = new ArrayList<>();
        for (int i = 0; i < files.length; i++) {
            keys.add(Keys.file("client-" + i, SECRET + i, files[i]));
        }
        return new AuthConfig(true, keys, RateLimitConfig.DEFAULT);
    }

    @Test
    void ownerOnlyKeyFileGivesNoWarning() throws IOException {
        assertThat(AuthWarnings.keyFiles(auth(keyFile("owner", "rw-------")))).isEmpty();
        assertThat(AuthWarnings.keyFiles(auth(keyFile("owner-ro", "r--------")))).isEmpty();
    }

    @Test
    void groupOrWorldReadableKeyFileIsNamedWithItsClientButNotItsKey() throws IOException {
        Path group = keyFile("group", "rw-r-----");
        Path world = keyFile("world", "rw----r--");
        Path both = keyFile("both", "rw-r--r--");
        List<String> warnings = AuthWarnings.keyFiles(auth(group, world, both));
        assertThat(warnings).containsExactly(
                "auth.keys[client-0].key_file: " + group + " is readable by group (expected: owner only, e.g. chmod 600)",
                "auth.keys[client-1].key_file: " + world + " is readable by others (expected: owner only, e.g. chmod 600)",
                "auth.keys[client-2].key_file: " + both
                        + " is readable by group and others (expected: owner only, e.g. chmod 600)");
        assertThat(String.join("\n", warnings)).doesNotContain(SECRET);
    }

    @Test
    void keyFileThatVanishedIsSkippedSilently() throws IOException {
        Path gone = keyFile("gone", "rw-r--r--");
        Files.delete(gone);
        assertThat(AuthWarnings.keyFiles(auth(gone))).isEmpty();
    }

    @Test
    void inlineKeysNeedNoFileCheck() {
        AuthConfig auth = new AuthConfig(true, List.of(Keys.inline("a", SECRET)), RateLimitConfig.DEFAULT);
        assertThat(AuthWarnings.all(auth, "0.0.0.0")).isEmpty();
    }

    @Test
    void disabledAuthWarnsOnlyWhenListeningBeyondLoopback() {
        AuthConfig off = new AuthConfig(false, List.of(), RateLimitConfig.DEFAULT);
        assertThat(AuthWarnings.disabledBeyondLoopback(off, "127.0.0.1")).isEmpty();
        assertThat(AuthWarnings.disabledBeyondLoopback(off, "127.1.2.3")).isEmpty();
        assertThat(AuthWarnings.disabledBeyondLoopback(off, "::1")).isEmpty();
        assertThat(AuthWarnings.disabledBeyondLoopback(off, "LOCALHOST")).isEmpty();
        assertThat(AuthWarnings.all(off, "0.0.0.0")).containsExactly("auth is disabled and proxy.host 0.0.0.0 is not"
                + " a loopback address: anyone who can reach it may run, pull and delete models"
                + " (expected: auth.keys, or a loopback host)");
        assertThat(AuthWarnings.disabledBeyondLoopback(off, "::")).isPresent();
        assertThat(AuthWarnings.disabledBeyondLoopback(off, "192.168.1.10")).isPresent();
        assertThat(AuthWarnings.disabledBeyondLoopback(off, "services[webui].bind", "0.0.0.0")).hasValueSatisfying(
                warning -> assertThat(warning).startsWith("auth is disabled and services[webui].bind 0.0.0.0 is not"));
        assertThat(AuthWarnings.disabledBeyondLoopback(off, "services[webui].bind", "127.0.0.1")).isEmpty();
    }
}
