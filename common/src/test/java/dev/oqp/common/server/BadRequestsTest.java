package dev.oqp.common.server;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BadRequestsTest {
    @Test
    void reasonsComeFromAFixedSet() {
        assertThat(BadRequests.reason(400, "Duplicate Host Header")).isEqualTo("host");
        assertThat(BadRequests.reason(400, "Bad HostPort")).isEqualTo("host");
        assertThat(BadRequests.reason(400, "Ambiguous URI empty segment")).isEqualTo("target");
        assertThat(BadRequests.reason(400, "Suspicious Path Character")).isEqualTo("target");
        assertThat(BadRequests.reason(431, "Request Header Fields Too Large")).isEqualTo("header_too_large");
        assertThat(BadRequests.reason(414, null)).isEqualTo("uri_too_long");
        assertThat(BadRequests.reason(400, "anything a client chose")).isEqualTo("other");
    }

    @Test
    void anExcerptIsBoundedAndEscaped() {
        String excerpt = BadRequests.excerpt("a\"b\\c\u0001\u00e9" + "x".repeat(7000));

        assertThat(excerpt).startsWith("a\\u0022b\\u005cc\\u0001\\u00e9xxx").endsWith("...(6943 more)")
                .doesNotContain("x".repeat(BadRequests.EXCERPT_CHARS));
        assertThat(BadRequests.excerpt("short")).isEqualTo("short");
        assertThat(BadRequests.excerpt(null)).isEmpty();
    }
}
