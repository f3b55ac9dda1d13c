package dev.oqp.common.proxy;

/** A request body grew past the configured limit while it was being streamed; answered with 413. */
public final class BodyTooLargeException extends RuntimeException {
    private final long limit;

    public BodyTooLargeException(long limit) {
        super("request body larger than " + limit + " bytes", null, false, false);
        this.limit = limit;
    }

    public long limit() {
        return limit;
    }
}
