package dev.oqp.common.proxy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Collection;

/** Trust stores built from PEM files, for https upstreams signed by a private CA. */
public final class TrustStores {
    private TrustStores() {
    }

    /**
     * A trust store holding the JVM's trusted CAs plus every certificate of a PEM file.
     *
     * @throws IOException if the file cannot be read or holds no certificate
     */
    public static KeyStore fromPem(Path pem) throws IOException {
        try (InputStream in = Files.newInputStream(pem)) {
            Collection<? extends Certificate> certificates = CertificateFactory.getInstance("X.509")
                    .generateCertificates(in);
            if (certificates.isEmpty()) {
                throw new IOException(pem + ": no certificate found");
            }
            KeyStore store = jvmTrustStore();
            int i = 0;
            for (Certificate certificate : certificates) {
                store.setCertificateEntry("oqp-ca-file-" + i++, certificate);
            }
            return store;
        } catch (GeneralSecurityException e) {
            throw new IOException(pem + ": " + e.getMessage(), e);
        }
    }

    /** A copy of the JVM's trust store ({@code javax.net.ssl.trustStore}, else the JDK's cacerts). */
    private static KeyStore jvmTrustStore() throws IOException, GeneralSecurityException {
        String configured = System.getProperty("javax.net.ssl.trustStore");
        Path path = configured != null && !configured.isBlank()
                ? Path.of(configured)
                : Path.of(System.getProperty("java.home"), "lib", "security", "cacerts");
        if (Files.isReadable(path)) {
            String password = System.getProperty("javax.net.ssl.trustStorePassword");
            return KeyStore.getInstance(path.toFile(), password == null ? null : password.toCharArray());
        }
        KeyStore empty = KeyStore.getInstance(KeyStore.getDefaultType());
        empty.load(null, null);
        return empty;
    }
}
