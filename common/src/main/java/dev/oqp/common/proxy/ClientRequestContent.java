package dev.oqp.common.proxy;

import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.io.Content;

/**
 * The client's request body as the upstream request reads it: failed with {@link BodyTooLargeException}
 * once it grows past the limit, and never failing the client's request when the upstream side fails
 * (Jetty's default would, and a failed client request reads as the client having gone away).
 */
final class ClientRequestContent implements Request.Content {
    private final Request.Content delegate;
    private final long limit;
    private long received;

    ClientRequestContent(Request.Content delegate, long limit) {
        this.delegate = delegate;
        this.limit = limit;
    }

    @Override
    public Content.Chunk read() {
        Content.Chunk chunk = delegate.read();
        if (chunk == null) {
            return null;
        }
        if (Content.Chunk.isFailure(chunk)) {
            // The client's side failed (it stalled or left mid-body): not the upstream's fault.
            return Content.Chunk.from(new ClientBodyException(chunk.getFailure()), chunk.isLast());
        }
        received += chunk.remaining();
        if (received > limit) {
            chunk.release();
            // The client request itself is not failed: that would read as the client going away.
            return Content.Chunk.from(new BodyTooLargeException(limit), true);
        }
        return chunk;
    }

    @Override
    public void demand(Runnable demandCallback) {
        delegate.demand(demandCallback);
    }

    @Override
    public void fail(Throwable failure) {
        // The upstream exchange failed; the client's request stays healthy so its response can be written.
    }

    @Override
    public long getLength() {
        return delegate.getLength();
    }

    @Override
    public String getContentType() {
        return delegate.getContentType();
    }

    @Override
    public boolean rewind() {
        return false;
    }
}
