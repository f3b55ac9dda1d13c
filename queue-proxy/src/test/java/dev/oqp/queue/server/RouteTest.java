package dev.oqp.queue.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.oqp.common.config.Scope;
import dev.oqp.queue.server.Route.Kind;
import dev.oqp.queue.server.Route.Target;
import org.junit.jupiter.api.Test;

class RouteTest {
    @Test
    void inferenceEndpointsAreQueuedAndNeedTheInferenceScope() {
        for (String path : new String[] {"/api/generate", "/api/chat", "/api/embed", "/api/embeddings",
                "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses", "/v1/messages"}) {
            Route route = Route.classify("POST", path);
            assertThat(route.kind()).as(path).isEqualTo(Kind.INFERENCE);
            assertThat(route.scope()).as(path).isEqualTo(Scope.INFERENCE);
            assertThat(route.target()).as(path).isEqualTo(Target.MODEL_HOST);
        }
        assertThat(Route.classify("POST", "/api/embed").embedding()).isTrue();
        assertThat(Route.classify("POST", "/v1/embeddings").embedding()).isTrue();
        assertThat(Route.classify("POST", "/api/chat").embedding()).isFalse();
    }

    @Test
    void metadataIsReadScopeAndNotQueued() {
        assertThat(Route.classify("GET", "/")).isEqualTo(new Route(Kind.METADATA, Scope.READ, Target.ANY_HOST, false));
        assertThat(Route.classify("HEAD", "/api/version").target()).isEqualTo(Target.ANY_HOST);
        assertThat(Route.classify("GET", "/api/tags").target()).isEqualTo(Target.MERGED);
        assertThat(Route.classify("GET", "/api/ps").target()).isEqualTo(Target.MERGED);
        assertThat(Route.classify("GET", "/v1/models").target()).isEqualTo(Target.MERGED);
        assertThat(Route.classify("POST", "/api/show").target()).isEqualTo(Target.MODEL_HOST);
        assertThat(Route.classify("GET", "/v1/models/llama3:latest").target()).isEqualTo(Target.MODEL_HOST);
        assertThat(Route.classify("HEAD", "/api/blobs/sha256:abc").scope()).isEqualTo(Scope.READ);
    }

    @Test
    void managementNeedsTheManagementScope() {
        for (String[] call : new String[][] {{"POST", "/api/pull"}, {"POST", "/api/push"}, {"POST", "/api/create"},
                {"POST", "/api/copy"}, {"DELETE", "/api/delete"}, {"POST", "/api/blobs/sha256:abc"}}) {
            Route route = Route.classify(call[0], call[1]);
            assertThat(route.kind()).as(call[1]).isEqualTo(Kind.MANAGEMENT);
            assertThat(route.scope()).as(call[1]).isEqualTo(Scope.MANAGEMENT);
            assertThat(route.target()).as(call[1]).isEqualTo(Target.MANAGEMENT_HOST);
        }
    }

    @Test
    void ownEndpointsCarryTheirScopes() {
        assertThat(Route.classify("GET", "/health").scope()).isNull();
        assertThat(Route.classify("GET", "/ready").scope()).isNull();
        assertThat(Route.classify("GET", "/queue/status").scope()).isEqualTo(Scope.READ);
        assertThat(Route.classify("GET", "/dashboard").scope()).isEqualTo(Scope.READ);
        assertThat(Route.classify("POST", "/queue/flush").scope()).isEqualTo(Scope.MANAGEMENT);
        assertThat(Route.classify("GET", "/queue/flush").kind()).isEqualTo(Kind.METHOD_NOT_ALLOWED);
        assertThat(Route.classify("GET", "/queue/requests/job-42"))
                .isEqualTo(new Route(Kind.OWN, Scope.READ, Target.NONE, false));
        assertThat(Route.classify("POST", "/queue/requests/job-42").kind()).isEqualTo(Kind.METHOD_NOT_ALLOWED);
        assertThat(Route.classify("GET", "/queue/requests/").kind()).isEqualTo(Kind.NOT_FOUND);
        assertThat(Route.classify("GET", "/queue/requests/a/b").kind()).isEqualTo(Kind.NOT_FOUND);
    }

    @Test
    void unknownPathsAndMethodsAreRefused() {
        assertThat(Route.classify("GET", "/api/nosuch").kind()).isEqualTo(Kind.NOT_FOUND);
        assertThat(Route.classify("GET", "/api/tags/").kind()).isEqualTo(Kind.NOT_FOUND);
        assertThat(Route.classify("GET", "/v1/models/user/model").kind()).isEqualTo(Kind.NOT_FOUND);
        assertThat(Route.classify("GET", "/api/blobs/").kind()).isEqualTo(Kind.NOT_FOUND);
        assertThat(Route.classify("GET", "/api/generate").kind()).isEqualTo(Kind.METHOD_NOT_ALLOWED);
        assertThat(Route.classify("DELETE", "/api/blobs/sha256:abc").kind()).isEqualTo(Kind.METHOD_NOT_ALLOWED);
    }
}
