package dev.oqp.common.proxy;

/**
 * Replaces an upstream's whole answer instead of streaming it; returned by {@link ResponseTap#rewriter}. Opt-in,
 * and meant for small answers that are never streamed (the embedding cache): the body is collected in memory (see
 * {@code CollectingBody}), nothing is written to the client until the upstream ends, and then the bytes of
 * {@link #rewrite(byte[])} are sent in one write with their own {@code Content-Length}. A rewriter that throws
 * answers 502 with its message.
 */
public interface ResponseRewriter {
    /**
     * The largest upstream body collected. A larger one aborts the upstream (the client gets 502), or, when
     * {@link #passThroughWhenLarger()}, is streamed on unchanged from there (what was collected first).
     */
    long maxBytes();

    /** True: an answer larger than {@link #maxBytes()} is sent on unchanged; false (the default): 502. */
    default boolean passThroughWhenLarger() {
        return false;
    }

    /** The body sent to the client instead of {@code serverToProxyBody}; runs on an upstream thread, must not block. */
    byte[] rewrite(byte[] serverToProxyBody) throws Exception;
}
