package dev.oqp.queue.server;

import java.io.IOException;
import java.nio.ByteBuffer;

import dev.oqp.common.proxy.ResponseRewriter;
import dev.oqp.common.proxy.ResponseTap;
import dev.oqp.queue.cache.CachePlan;
import dev.oqp.queue.metrics.UsageScanner;
import dev.oqp.queue.routing.Fleet;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.http.HttpHeader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the queue proxy adds to and learns from one host's answer to one call: the host's name; a 200 on an inference route means the model
 * is now loaded there, Ollama's 404 for a model that it does not have it; the token counts streamed by; and a
 * cacheable embedding answer, collected to be stored (and on a partial hit, completed).
 */
final class AnswerTap implements ResponseTap {
    private static final Logger LOG = LoggerFactory.getLogger(AnswerTap.class);
    /** Bytes of an upstream embedding answer collected to store (and, on a partial hit, to complete) it. */
    private static final long MAX_CAPTURE = 64L << 20;

    private final Call call;
    private final Fleet fleet;

    AnswerTap(Call call, Fleet fleet) {
        this.call = call;
        this.fleet = fleet;
    }

    /**
     * Names the host that answered in {@code X-Failover-Host} (the Python tool's header, on every answer a host
     * gave, not only after a failover; never on the proxy's own errors or a cache hit), then learns from the answer.
     */
    @Override
    public void onHeaders(Response serverToProxyResponse, org.eclipse.jetty.server.Response proxyToClientResponse) {
        proxyToClientResponse.getHeaders().put(Headers.X_FAILOVER_HOST, call.host().name());
        if (call.route.kind() != Route.Kind.INFERENCE) {
            return;
        }
        int status = serverToProxyResponse.getStatus();
        if (status == 200) {
            call.usage = new UsageScanner(serverToProxyResponse.getHeaders().get(HttpHeader.CONTENT_TYPE));
            fleet.markLoaded(call.host(), call.model, call.model);
        } else if (status == 404 && call.route.target() == Route.Target.MODEL_HOST
                && call.request.getHttpURI().getPath().startsWith("/api/")
                && call.spelledModel != null && call.spelledModel.indexOf('@') < 0) {
            // (A name with a digest is matched without it: Ollama's 404 may be about the digest or an unparseable
            // name, which proves nothing about the model.)
            // Ollama's answer for a model it does not have: its native inference routes have no other 404 (an older
            // Ollama may lack an OpenAI-compatible route, so a 404 there proves nothing).
            fleet.forget(call.host(), call.model);
        }
    }

    /**
     * The upstream's 200 answer to a cacheable embedding request is collected whole (Ollama writes it in one piece
     * anyway) so that its vectors are handed to the cache before the client has the answer: a client's next request
     * then finds them (the Redis connection runs commands in order). A miss is answered with the upstream's bytes
     * unchanged (and, past 64 MiB, streamed on without storing); a partial hit with every item in the request's
     * order. The store itself is not waited for.
     */
    @Override
    public ResponseRewriter rewriter(Response serverToProxyResponse) {
        CachePlan plan = call.cache;
        if (plan == null || plan.status() == CachePlan.Status.HIT || serverToProxyResponse.getStatus() != 200) {
            return null;
        }
        boolean partial = plan.status() == CachePlan.Status.PARTIAL;
        return new ResponseRewriter() {
            @Override
            public long maxBytes() {
                return MAX_CAPTURE;
            }

            @Override
            public boolean passThroughWhenLarger() {
                return !partial;
            }

            @Override
            public byte[] rewrite(byte[] serverToProxyBody) throws IOException {
                CachePlan.Answer answer;
                try {
                    answer = plan.parse(serverToProxyBody);
                    call.cacheService.store(plan.learn(answer));
                } catch (IOException | RuntimeException e) {
                    if (partial) {
                        throw e instanceof IOException io ? io : new IOException(e.getMessage(), e);
                    }
                    // Not an answer the cache can use (another Ollama version's shape?): sent on as it came.
                    if (LOG.isDebugEnabled()) {
                        LOG.debug("{} embedding answer not stored: {}", call.requestId, e.getMessage());
                    }
                    return serverToProxyBody;
                }
                return partial ? plan.response(answer) : serverToProxyBody;
            }
        };
    }

    @Override
    public void onContent(ByteBuffer serverToProxyContent) {
        UsageScanner usage = call.usage;
        if (usage != null) {
            usage.accept(serverToProxyContent);
        }
    }
}
