package dev.oqp.common.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Generates a self-signed TLS identity for tests with the JDK's {@code keytool}: an RSA key pair in a
 * PKCS12 key store whose certificate is valid for {@code localhost} and {@code 127.0.0.1}, plus that
 * certificate as a PEM file usable as a CA file by a client.
 */
public final class TestTls {

    /** The generated files. {@code keyStore} is PKCS12 protected by {@code password}; {@code certificatePem} is the certificate in PEM. */
    public record Material(Path keyStore, String password, Path certificatePem) {
    }

    private TestTls() {
    }

    /**
     * Generates {@code keystore.p12} and {@code cert.pem} into {@code directory} (created if needed), for
     * {@code localhost}, {@code 127.0.0.1} and every name of {@code extraDnsNames}. The JDK sends SNI only
     * for dotted names, so a test asserting SNI needs one such name resolving to loopback.
     */
    public static Material generate(Path directory, String... extraDnsNames) {
        try {
            Files.createDirectories(directory);
            Path keyStore = directory.resolve("keystore.p12");
            Path pem = directory.resolve("cert.pem");
            Files.deleteIfExists(keyStore);
            Files.deleteIfExists(pem);
            String password = "changeit";
            keytool("-genkeypair", "-alias", "fake", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
                    "-dname", "CN=localhost", "-ext", san(extraDnsNames),
                    "-storetype", "PKCS12", "-keystore", keyStore.toString(),
                    "-storepass", password, "-keypass", password);
            keytool("-exportcert", "-rfc", "-alias", "fake", "-keystore", keyStore.toString(),
                    "-storepass", password, "-file", pem.toString());
            return new Material(keyStore, password, pem);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String san(String... extraDnsNames) {
        StringBuilder san = new StringBuilder("SAN=dns:localhost,ip:127.0.0.1");
        for (String name : extraDnsNames) {
            san.append(",dns:").append(name);
        }
        return san.toString();
    }

    private static void keytool(String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                throw new IOException("keytool failed: " + command + "\n" + output);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            throw new IOException("interrupted while running keytool", e);
        }
    }
}
