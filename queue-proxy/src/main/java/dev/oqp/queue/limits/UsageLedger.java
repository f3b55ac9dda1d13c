package dev.oqp.queue.limits;

import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;

import com.fasterxml.jackson.core.JsonGenerator;

/**
 * Usage per client and model, since start and per UTC day (the last {@value #DAYS_KEPT} days): inference
 * requests that were answered by a host or from the embedding cache, the prompt and completion tokens the
 * hosts reported, and embedding items answered from the cache. Client ids come from configuration and model
 * names are the metrics' bounded labels, so the ledger stays small. Thread-safe (one lock; a few map steps
 * per request). The in-memory {@link Usage}; {@link SharedUsage} keeps one too, for when Valkey cannot answer.
 */
public final class UsageLedger implements Usage {
    static final int DAYS_KEPT = 8;

    private final Clock clock;
    private final Instant since;
    // Guarded by this: client -> model -> counters, and day -> client -> model -> counters.
    private final Map<String, Map<String, long[]>> total = new TreeMap<>();
    private final TreeMap<LocalDate, Map<String, Map<String, long[]>>> days = new TreeMap<>();

    public UsageLedger(Clock clock) {
        this.clock = clock;
        this.since = clock.instant();
    }

    @Override
    public void record(String client, String model, long promptTokens, long completionTokens, long cacheHits) {
        long[] counters = {1, Math.max(0, promptTokens), Math.max(0, completionTokens), Math.max(0, cacheHits)};
        LocalDate today = LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC);
        synchronized (this) {
            UsageReport.add(total, client, model, counters);
            Map<String, Map<String, long[]>> day = days.computeIfAbsent(today, d -> new TreeMap<>());
            UsageReport.add(day, client, model, counters);
            while (days.size() > DAYS_KEPT) {
                days.pollFirstEntry();
            }
        }
    }

    /** A copy of the counters, at once. */
    @Override
    public CompletableFuture<UsageReport> report() {
        return CompletableFuture.completedFuture(snapshot());
    }

    synchronized UsageReport snapshot() {
        Map<String, Map<String, long[]>> totalCopy = new TreeMap<>();
        total.forEach((client, models) -> models.forEach((model, c) -> UsageReport.add(totalCopy, client, model, c)));
        TreeMap<LocalDate, Map<String, Map<String, long[]>>> daysCopy = new TreeMap<>();
        days.forEach((day, clients) -> {
            Map<String, Map<String, long[]>> copy = daysCopy.computeIfAbsent(day, d -> new TreeMap<>());
            clients.forEach((client, models) -> models.forEach((model, c) -> UsageReport.add(copy, client, model, c)));
        });
        return new UsageReport(since, totalCopy, daysCopy, null, null);
    }

    /**
     * Writes {@code since}, then per client (those {@code visible} accepts): totals, per model, and per day
     * (each day with its models).
     */
    public void write(JsonGenerator g, Predicate<String> visible) throws IOException {
        snapshot().write(g, visible);
    }
}
