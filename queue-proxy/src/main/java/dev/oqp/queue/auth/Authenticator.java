package dev.oqp.queue.auth;

import java.util.List;
import java.util.Optional;

import dev.oqp.queue.metrics.QueueMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Step 3 of the pipeline: who a request is. It decides and counts, and writes nothing: the caller answers a
 * {@link Refused} in its own way.
 *
 * <p>A valid key always passes: keys are long enough that guessing is hopeless, and an address shared by many
 * clients (loopback, a NAT, Docker's proxy) must not be locked out by whoever sends it bad keys. What the
 * limiter counts is keys presented and wrong; an address past {@code max_failures} in the window gets 429
 * instead of 401 until the window ends. A request without a key is not a guess and is not counted. On an
 * injection port with a {@code client}, a request whose headers carry no known key is that client, and whatever
 * key it carried is neither a failure nor counted: the port's identity wins (OpenAI SDKs always send some key).
 */
public final class Authenticator {
    private static final Logger LOG = LoggerFactory.getLogger(Authenticator.class);

    private final QueueMetrics metrics;

    public Authenticator(QueueMetrics metrics) {
        this.metrics = metrics;
    }

    /** What {@link #authenticate} decided. */
    public sealed interface Result permits Admitted, Refused {
    }

    /** The request is {@code client}'s. */
    public record Admitted(Client client) implements Result {
    }

    /**
     * The request is refused: answer {@code status} with {@code message}; {@code error} is the outcome logged.
     *
     * @param retryAfterSeconds the {@code Retry-After} to send, or -1 for none
     * @param challenges        the {@code WWW-Authenticate} values to send (none on a 429)
     */
    public record Refused(int status, String message, String error, long retryAfterSeconds, List<String> challenges)
            implements Result {
    }

    /**
     * The credentials a request carries, and where it comes from.
     *
     * @param authorization its {@code Authorization} value, or null
     * @param apiKey        its {@code x-api-key} value where the route takes one ({@code /v1/messages}, where
     *                      Anthropic clients send their key), else null; a bearer token in {@code Authorization}
     *                      wins over it
     * @param browser       the dashboard and what it polls also take the key as a Basic password
     */
    public record Attempt(String requestId, String clientAddress, String authorization, String apiKey,
                          boolean browser) {
    }

    /**
     * Decides who {@code attempt} is under {@code keys}.
     *
     * @param portClient who a request without a needed key is: with keys, the injection port's client, or null
     *                   (main port, or a service without one); without keys, whoever the port or
     *                   {@code X-Client-ID} names, or null for {@link Client#ANONYMOUS}
     */
    public Result authenticate(KeyRegistry keys, FailureLimiter limiter, Client portClient, Attempt attempt,
                               long nowNanos) {
        if (!keys.enabled()) {
            // No key is checked: anonymous, unless an injection port or X-Client-ID names the client (fairness).
            return new Admitted(portClient != null ? portClient : Client.ANONYMOUS);
        }
        String token = KeyRegistry.bearerToken(attempt.authorization());
        if (token == null && attempt.browser()) {
            token = KeyRegistry.basicPassword(attempt.authorization());
        }
        if (token == null) {
            token = KeyRegistry.apiKeyToken(attempt.apiKey());
        }
        Optional<Client> byKey = keys.authenticate(token);
        if (byKey.isPresent()) {
            return new Admitted(byKey.get());
        }
        if (portClient != null) {
            // An injection port's identity wins: a key it does not need (the dummy key an OpenAI SDK must send) is
            // ignored, neither a failed key check nor a reason to refuse; a valid key of another client was taken.
            return new Admitted(portClient);
        }
        String reason = token == null ? "missing" : "invalid";
        metrics.authFailures.labelValues(reason).inc();
        String address = attempt.clientAddress();
        boolean blocked = false;
        if (token != null) {
            blocked = limiter.blocked(address, nowNanos);
            if (!blocked) {
                limiter.recordFailure(address, nowNanos);
            }
        }
        if (blocked) {
            metrics.authFailures.labelValues("rate_limited").inc();
            long retryAfter = limiter.retryAfterSeconds(address, nowNanos);
            return new Refused(429, "too many failed key checks from this address; retry in " + retryAfter + "s",
                    "rate_limited", retryAfter, List.of());
        }
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} auth failed ({}) from {}", attempt.requestId(), reason, address);
        }
        List<String> challenges = attempt.browser()
                ? List.of("Bearer", "Basic realm=\"oqp\", charset=\"UTF-8\"") : List.of("Bearer");
        return new Refused(401, token == null ? "missing API key: send Authorization: Bearer <key>"
                : "invalid API key", "unauthorized_" + reason, -1, challenges);
    }
}
