package dev.oqp.common.config;

/**
 * A client's rate limits ({@code auth.keys[]}): 0 means no limit.
 *
 * @param requestsPerMinute inference requests per minute (a bucket of this size refilled evenly over a minute)
 * @param tokensPerMinute   prompt plus completion tokens per minute, as the upstream reported them
 * @param tokensPerDay      prompt plus completion tokens per UTC day (a quota)
 */
public record RateLimits(int requestsPerMinute, long tokensPerMinute, long tokensPerDay) {
    /** No limit at all. */
    public static final RateLimits NONE = new RateLimits(0, 0, 0);

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
