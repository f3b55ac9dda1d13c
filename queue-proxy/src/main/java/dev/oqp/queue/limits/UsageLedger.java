package dev.oqp.queue.limits;

import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

import com.fasterxml.jackson.core.JsonGenerator;

/**
 * Usage per client and model, since start and per UTC day (the last {@value #DAYS_KEPT} days): inference
 * requests that were answered by a host or from the embedding cache, the prompt and completion tokens the
 * hosts reported, and embedding items answered from the cache. Client ids come from configuration and model
 * names are the metrics' bounded labels, so the ledger stays small. Thread-safe (one lock; a few map steps
 * per request).
 */
public final class UsageLedger {
    static final int DAYS_KEPT = 8;

    private final Clock clock;
    private final Instant since;
    // Guarded by this: client -> model -> counters, and day -> client -> model -> counters.
    private final Map<String, Map<String, long[]>> total = new TreeMap<>();
    private final TreeMap<LocalDate, Map<String, Map<String, long[]>>> days = new TreeMap<>();

    private static final int REQUESTS = 0;
    private static final int PROMPT = 1;
    private static final int COMPLETION = 2;
    private static final int CACHE_HITS = 3;

    public UsageLedger(Clock clock) {
        this.clock = clock;
        this.since = clock.instant();
    }

    /** Counts one answered inference request, its tokens and its cached embedding items. */
    public void record(String client, String model, long promptTokens, long completionTokens, long cacheHits) {
        LocalDate today = LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC);
        synchronized (this) {
            add(total, client, model, promptTokens, completionTokens, cacheHits);
            Map<String, Map<String, long[]>> day = days.computeIfAbsent(today, d -> new TreeMap<>());
            add(day, client, model, promptTokens, completionTokens, cacheHits);
            while (days.size() > DAYS_KEPT) {
                days.pollFirstEntry();
            }
        }
    }

    private static void add(Map<String, Map<String, long[]>> into, String client, String model, long prompt,
                            long completion, long cacheHits) {
        long[] c = into.computeIfAbsent(client, k -> new TreeMap<>()).computeIfAbsent(model, k -> new long[4]);
        c[REQUESTS]++;
        c[PROMPT] += Math.max(0, prompt);
        c[COMPLETION] += Math.max(0, completion);
        c[CACHE_HITS] += Math.max(0, cacheHits);
    }

    /**
     * Writes {@code since}, then per client (those {@code visible} accepts): totals, per model, and per day
     * (each day with its models).
     */
    public synchronized void write(JsonGenerator g, Predicate<String> visible) throws IOException {
        g.writeStringField("since", since.toString());
        g.writeArrayFieldStart("clients");
        for (Map.Entry<String, Map<String, long[]>> client : total.entrySet()) {
            if (!visible.test(client.getKey())) {
                continue;
            }
            g.writeStartObject();
            g.writeStringField("client_id", client.getKey());
            g.writeFieldName("total");
            counters(g, sum(client.getValue()));
            g.writeObjectFieldStart("models");
            for (Map.Entry<String, long[]> model : client.getValue().entrySet()) {
                g.writeFieldName(model.getKey());
                counters(g, model.getValue());
            }
            g.writeEndObject();
            g.writeObjectFieldStart("days");
            for (Map.Entry<LocalDate, Map<String, Map<String, long[]>>> day : days.descendingMap().entrySet()) {
                Map<String, long[]> models = day.getValue().get(client.getKey());
                if (models == null) {
                    continue;
                }
                g.writeObjectFieldStart(day.getKey().toString());
                g.writeFieldName("total");
                counters(g, sum(models));
                g.writeObjectFieldStart("models");
                for (Map.Entry<String, long[]> model : models.entrySet()) {
                    g.writeFieldName(model.getKey());
                    counters(g, model.getValue());
                }
                g.writeEndObject();
                g.writeEndObject();
            }
            g.writeEndObject();
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    private static long[] sum(Map<String, long[]> models) {
        long[] s = new long[4];
        for (long[] c : models.values()) {
            for (int i = 0; i < 4; i++) {
                s[i] += c[i];
            }
        }
        return s;
    }

    private static void counters(JsonGenerator g, long[] c) throws IOException {
        g.writeStartObject();
        g.writeNumberField("requests", c[REQUESTS]);
        g.writeNumberField("prompt_tokens", c[PROMPT]);
        g.writeNumberField("completion_tokens", c[COMPLETION]);
        g.writeNumberField("cache_hits", c[CACHE_HITS]);
        g.writeEndObject();
    }
}
