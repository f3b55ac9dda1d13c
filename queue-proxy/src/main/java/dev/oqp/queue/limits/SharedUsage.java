package dev.oqp.queue.limits;

import java.time.Clock;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import io.lettuce.core.api.async.RedisAsyncCommands;

/**
 * Usage summed over replicas: one Valkey hash per UTC day ({@code {<prefix>}usage:<yyyy-mm-dd>}, field
 * {@code <client>\t<model>\t<counter>}), incremented by one script per answered request and kept
 * {@value UsageLedger#DAYS_KEPT} days ({@code EXPIRE}), so it survives restarts. Writes are fire-and-forget; one that
 * fails is counted and the outage logged once ({@link Outage}), never failing a request. This replica's own
 * {@link UsageLedger} is kept as well: {@link #report()} reads the shared days, and answers from that ledger,
 * marked partial, when Valkey does not answer in time. In a shared report, {@code since} is the start of the
 * oldest day kept and the totals are those days' sums.
 */
public final class SharedUsage implements Usage {
    private static final LuaScript ADD = new LuaScript("usage_add.lua");
    private static final long RETENTION_SECONDS = Duration.ofDays(UsageLedger.DAYS_KEPT).toSeconds();
    private static final String[] COUNTER_NAMES = {"requests", "prompt_tokens", "completion_tokens", "cache_hits"};

    private final RedisAsyncCommands<String, String> commands;
    private final String keyPrefix;
    private final long timeoutMillis;
    private final Clock clock;
    private final UsageLedger local;
    private final Outage writes;
    private final Outage reads;
    /** The read on its way, shared by the callers that ask meanwhile; null when none is. */
    private final AtomicReference<CompletableFuture<UsageReport>> inFlight = new AtomicReference<>();

    /**
     * @param keyPrefix {@code coordination.key_prefix}
     * @param local     this replica's own ledger (recorded here too)
     * @param degraded  counts one write or read that went without the backend, by what ({@code usage_write},
     *                  {@code usage_read})
     */
    public SharedUsage(RedisAsyncCommands<String, String> commands, String keyPrefix, Duration timeout, Clock clock,
                       UsageLedger local, java.util.function.Consumer<String> degraded) {
        this.commands = commands;
        this.keyPrefix = keyPrefix;
        this.timeoutMillis = timeout.toMillis();
        this.clock = clock;
        this.local = local;
        this.writes = new Outage("usage_write", "usage is counted in each replica's memory only until it returns",
                () -> degraded.accept("usage_write"));
        this.reads = new Outage("usage_read", "GET /usage answers this replica's own counts, marked partial",
                () -> degraded.accept("usage_read"));
    }

    private String key(LocalDate day) {
        return "{" + keyPrefix + "}usage:" + day;
    }

    @Override
    public void record(String client, String model, long promptTokens, long completionTokens, long cacheHits) {
        local.record(client, model, promptTokens, completionTokens, cacheHits);
        if (writes.skipBackend()) {
            writes.degradedDecision();
            return;
        }
        CompletableFuture<List<Object>> added;
        try {
            added = ADD.run(commands, new String[] {key(LocalDate.now(clock.withZone(ZoneOffset.UTC)))}, client, model,
                    Long.toString(Math.max(0, promptTokens)), Long.toString(Math.max(0, completionTokens)),
                    Long.toString(Math.max(0, cacheHits)), Long.toString(RETENTION_SECONDS));
        } catch (RuntimeException e) {
            added = CompletableFuture.failedFuture(e);
        }
        added.orTimeout(timeoutMillis, TimeUnit.MILLISECONDS).whenComplete((ignored, failure) -> {
            if (failure != null) {
                writes.failed(failure);
                writes.degradedDecision();
            } else {
                writes.answered();
            }
        });
    }

    /**
     * The shared days read at once (one pipelined {@code HGETALL} per day), or this replica's own, partial. Callers
     * that ask while a read is on its way share it: however many ask at once, one read per replica is in flight.
     */
    @Override
    public CompletableFuture<UsageReport> report() {
        CompletableFuture<UsageReport> mine = new CompletableFuture<>();
        CompletableFuture<UsageReport> running = inFlight.compareAndExchange(null, mine);
        if (running != null) {
            return running;
        }
        read().whenComplete((report, failure) -> {
            inFlight.set(null);
            if (failure != null) {
                mine.completeExceptionally(failure);
            } else {
                mine.complete(report);
            }
        });
        return mine;
    }

    private CompletableFuture<UsageReport> read() {
        LocalDate today = LocalDate.now(clock.withZone(ZoneOffset.UTC));
        List<LocalDate> kept = new ArrayList<>();
        List<CompletableFuture<Map<String, String>>> reads = new ArrayList<>();
        try {
            for (int i = UsageLedger.DAYS_KEPT - 1; i >= 0; i--) {
                LocalDate day = today.minusDays(i);
                kept.add(day);
                reads.add(commands.hgetall(key(day)).toCompletableFuture());
            }
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture(partial(e));
        }
        return CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new))
                .orTimeout(timeoutMillis, TimeUnit.MILLISECONDS)
                .handle((ignored, failure) -> {
                    if (failure != null) {
                        return partial(failure);
                    }
                    this.reads.answered();
                    return shared(kept, reads);
                });
    }

    private UsageReport partial(Throwable failure) {
        reads.failed(failure);
        reads.degradedDecision();
        // The failure itself is logged (Outage); callers with the read scope learn no address or exception.
        return local.snapshot().partial("coordination backend unreachable: this replica's own counts since it"
                + " started");
    }

    private static UsageReport shared(List<LocalDate> kept, List<CompletableFuture<Map<String, String>>> reads) {
        Map<String, Map<String, long[]>> total = new TreeMap<>();
        TreeMap<LocalDate, Map<String, Map<String, long[]>>> days = new TreeMap<>();
        for (int i = 0; i < kept.size(); i++) {
            Map<String, String> fields = reads.get(i).join();
            if (fields.isEmpty()) {
                continue;
            }
            Map<String, Map<String, long[]>> day = days.computeIfAbsent(kept.get(i), d -> new TreeMap<>());
            fields.forEach((field, value) -> {
                String[] parts = field.split("\t", -1);
                int counter = parts.length == 3 ? List.of(COUNTER_NAMES).indexOf(parts[2]) : -1;
                if (counter < 0) {
                    return;
                }
                long[] one = new long[UsageReport.COUNTERS];
                one[counter] = Long.parseLong(value);
                UsageReport.add(day, parts[0], parts[1], one);
                UsageReport.add(total, parts[0], parts[1], one);
            });
        }
        LocalDate oldest = days.isEmpty() ? kept.get(kept.size() - 1) : days.firstKey();
        return new UsageReport(oldest.atStartOfDay(ZoneOffset.UTC).toInstant(), total, days, false, null);
    }
}
