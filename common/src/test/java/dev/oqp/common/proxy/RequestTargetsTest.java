package dev.oqp.common.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import org.eclipse.jetty.http.HttpURI;
import org.junit.jupiter.api.Test;

class RequestTargetsTest {
    @Test
    void canonicalPathsAreAcceptedWithEscapesOfReservedCharacters() {
        for (String path : new String[] {"/", "/api/tags", "/v1/models/llama3%3Alatest", "/api/blobs/sha256%3Aabc",
                "/v1/models/a%20b", "/v1/models/%E2%82%AC", "/api/x%3bparam", "/a.b/..c/...", "/~user/a-b_c"}) {
            assertThat(RequestTargets.canonicalPath(path)).as(path).isTrue();
        }
    }

    @Test
    void pathParametersDotSegmentsEmptySegmentsAndNeedlessEscapesAreNotCanonical() {
        for (String path : new String[] {null, "", "api/tags", "*", "/api/tags;x=1", "/api;x/tags", "/api/./tags",
                "/api/x/../tags", "/api/.", "/api/..", "/.", "/api/%2e/tags", "/api/%2E%2E/tags", "/api//tags", "//",
                "/api/tags/", "/api/a%2Fb", "/api/a%2fb", "/api/a%5Cb", "/api/a\\b", "/api/%74ags", "/api/sh%6Fw",
                "/api/%7E", "/api/%5F", "/api/%2D", "/api/%30", "/api/%zz", "/api/%4", "/api/%", "/api/%u0074ags",
                "/api/%\uFF10\uFF10"}) {
            assertThat(RequestTargets.canonicalPath(path)).as(path).isFalse();
        }
    }

    @Test
    void aQueryIsWellFormedWhenEveryPercentStartsTwoHexDigits() {
        for (String query : new String[] {null, "", "a=1", "a=%20&b=%ff", "a=%E2%82", "a=b;c", "x=%3A%3a"}) {
            assertThat(RequestTargets.wellFormedQuery(query)).as(query).isTrue();
        }
        for (String query : new String[] {"%zz=1", "a=%", "a=%4", "a=%u0041", "a=1%2", "a=%g0"}) {
            assertThat(RequestTargets.wellFormedQuery(query)).as(query).isFalse();
        }
    }

    @Test
    void refusalNamesThePathFirstThenTheQuery() {
        assertThat(RequestTargets.refusal(HttpURI.from("/api/tags?a=1"))).isNull();
        assertThat(RequestTargets.refusal(HttpURI.from("/api/tags?%zz=1"))).isEqualTo(RequestTargets.MALFORMED_QUERY);
        assertThat(RequestTargets.refusal(HttpURI.from("/api/%74ags?%zz=1"))).isEqualTo(RequestTargets.NOT_CANONICAL);
    }
}
