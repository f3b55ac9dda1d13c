package dev.oqp.common.config;

/**
 * A client's rate limits ({@code auth.keys[]}): 0 means no limit.
 *
 * @param requestsPerMinute inference requests per minute (a bucket of this size refilled evenly over a minute)
 * @param tokensPerMinute   prompt plus completion tokens per minute, as the upstream reported them
 * @param tokensPerDay      prompt plus completion tokens per UTC day (a quota)
 */
public record RateLimits(int requestsPerMinute, long tokensPerMinute, long tokensPerDay) {
    /** The value of a limit that is not set. */
    public static final int NO_LIMIT = 0;
    /** No limit at all. */
    public static final RateLimits NONE = new RateLimits(NO_LIMIT, NO_LIMIT, NO_LIMIT);

    public RateLimits {
        Checks.range("requestsPerMinute", requestsPerMinute, 0, Integer.MAX_VALUE);
        if (tokensPerMinute < 0 || tokensPerDay < 0) {
            throw new IllegalArgumentException("token limits: expected >= 0");
        }
    }

    /** True when any limit is set. */
    public boolean any() {
        return requestsPerMinute > 0 || tokensPerMinute > 0 || tokensPerDay > 0;
    }
}
