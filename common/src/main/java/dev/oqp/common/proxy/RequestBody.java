package dev.oqp.common.proxy;

import java.util.Objects;

import org.eclipse.jetty.server.Request;

/**
 * What {@link ProxyBase#requestBody(Request)} decided about one request's body: either the client's body streamed
 * upstream as it arrives, held to a limit, or bytes the subclass has already read that are sent in its place.
 * Immutable.
 */
public final class RequestBody {
    private static final RequestBody UNLIMITED = new RequestBody(Long.MAX_VALUE, null);

    private final long maxBytes;
    private final byte[] bytes;

    private RequestBody(long maxBytes, byte[] bytes) {
        this.maxBytes = maxBytes;
        this.bytes = bytes;
    }

    /**
     * The client's body, streamed upstream chunk by chunk as it arrives. A declared length over {@code maxBytes}
     * is answered 413 before anything is sent upstream; a chunked body that grows past it fails the upstream
     * exchange, and the client gets 413 too. {@link Long#MAX_VALUE}: no limit. A streamed body is never sent
     * twice, so a request with one is never failed over.
     */
    public static RequestBody streamed(long maxBytes) {
        if (maxBytes < 0) {
            throw new IllegalArgumentException("maxBytes: " + maxBytes + " (expected: >= 0)");
        }
        return maxBytes == Long.MAX_VALUE ? UNLIMITED : new RequestBody(maxBytes, null);
    }

    /**
     * Bytes the subclass has already read (and maybe changed) sent in place of the client's body, with their own
     * {@code Content-Length}; the client's framing headers are not copied. The bytes are not copied and must not
     * change afterwards. Such a body can be sent again, so the request may fail over to another upstream. The
     * subclass has applied its own limit while reading; none is applied here.
     */
    public static RequestBody buffered(byte[] bytes) {
        return new RequestBody(Long.MAX_VALUE, Objects.requireNonNull(bytes, "bytes"));
    }

    /** True for {@link #buffered(byte[])}. */
    boolean isBuffered() {
        return bytes != null;
    }

    /** The limit of a streamed body; {@link Long#MAX_VALUE} for a buffered one. */
    long maxBytes() {
        return maxBytes;
    }

    /** The bytes of a buffered body; null for a streamed one. */
    byte[] bytes() {
        return bytes;
    }
}
