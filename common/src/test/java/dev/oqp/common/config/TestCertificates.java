package dev.oqp.common.config;

/** A self-signed test certificate (CN=oqp-test-ca, EC P-256), its key discarded. */
final class TestCertificates {

    static final String PEM = ""
            + "-----BEGIN CERTIFICATE-----\n"
            + "MIIBgzCCASmgAwIBAgIUbNdDowcG/juRdfE/w5MYfB26U10wCgYIKoZIzj0EAwIw\n"
            + "FjEUMBIGA1UEAwwLb3FwLXRlc3QtY2EwIBcNMjYxMTI1MDE0OTQ5WhgPMjEyNjEx\n"
            + "MDEwMTQ5NDlaMBYxFDASBgNVBAMMC29xcC10ZXN0LWNhMFkwEwYHKoZIzj0CAQYI\n"
            + "KoZIzj0DAQcDQgAEr3arlog5eIuCtTG21QO0/2elzP52VhhkXPQHVYBupVg9xopK\n"
            + "PjakHXaYayiaUEXZ7n0EAvQNT5HkXyBe0kR6maNTMFEwHQYDVR0OBBYEFOzOi04e\n"
            + "DSzQG8cpqNI/BQTZJPcQMB8GA1UdIwQYMBaAFOzOi04eDSzQG8cpqNI/BQTZJPcQ\n"
            + "MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhAOCOQPL/cf3pMKPP\n"
            + "qR2YUJF2CH7vXNCQoD2zQnXA4Ay5AiBVSMQqQ8YvzhT8Tp4bJP5CTY7Y50t59LkJ\n"
            + "c8jdJNhf+A==\n"
            + "-----END CERTIFICATE-----\n"
            ;

    private TestCertificates() {
    }
}
