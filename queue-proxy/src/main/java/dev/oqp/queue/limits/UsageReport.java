package dev.oqp.queue.limits;

import java.io.IOException;
import java.time.Instant;
import java.time.LocalDate;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.function.Predicate;

import com.fasterxml.jackson.core.JsonGenerator;

/**
 * A copy of usage counters as {@code GET /usage} writes them: totals per client and model, and per UTC day. The
 * counters of one client and model are {@code [requests, prompt tokens, completion tokens, cache hits]}.
 */
public final class UsageReport {
    static final int REQUESTS = 0;
    static final int PROMPT = 1;
    static final int COMPLETION = 2;
    static final int CACHE_HITS = 3;
    static final int COUNTERS = 4;

    private final Instant since;
    private final Map<String, Map<String, long[]>> total;
    private final NavigableMap<LocalDate, Map<String, Map<String, long[]>>> days;
    private final Boolean partial;
    private final String reason;

    /**
     * @param partial null when replicas do not share usage (no field written); else whether this is one replica's
     *                memory only, because the shared store did not answer ({@code reason} says why)
     */
    UsageReport(Instant since, Map<String, Map<String, long[]>> total,
                NavigableMap<LocalDate, Map<String, Map<String, long[]>>> days, Boolean partial, String reason) {
        this.since = since;
        this.total = total;
        this.days = days;
        this.partial = partial;
        this.reason = reason;
    }

    /** The same counters, marked as one replica's only. */
    UsageReport partial(String why) {
        return new UsageReport(since, total, days, true, why);
    }

    /** Adds one client and model's counters to {@code into} (all of them: a report sums, it does not count). */
    static void add(Map<String, Map<String, long[]>> into, String client, String model, long[] counters) {
        long[] c = into.computeIfAbsent(client, k -> new TreeMap<>()).computeIfAbsent(model, k -> new long[COUNTERS]);
        for (int i = 0; i < COUNTERS; i++) {
            c[i] += counters[i];
        }
    }

    /**
     * Writes {@code since} (and {@code partial}, {@code partial_reason} when replicas share usage), then per client
     * (those {@code visible} accepts): totals, per model, and per day (each day with its models).
     */
    public void write(JsonGenerator g, Predicate<String> visible) throws IOException {
        g.writeStringField("since", since.toString());
        if (partial != null) {
            g.writeBooleanField("partial", partial);
            if (reason != null) {
                g.writeStringField("partial_reason", reason);
            }
        }
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
        long[] s = new long[COUNTERS];
        for (long[] c : models.values()) {
            for (int i = 0; i < COUNTERS; i++) {
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
