package dev.oqp.queue.admin;

import java.io.IOException;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeSet;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.oqp.queue.routing.Host;
import dev.oqp.queue.routing.ModelNames;
import dev.oqp.queue.routing.Preloader;
import dev.oqp.queue.routing.SlotPool;

/**
 * A host's per-model fields of {@code /queue/status}: {@code warm_models}, the models it keeps warm ({@code preload}
 * and pinned) with whether its {@code /api/ps} lists them and where the proxy's last load of each stands, and
 * {@code model_caps}, the models it runs under a per-model {@code max_concurrent} (its own entries, and the models it
 * has or runs that a fleet glob caps) with their requests in flight. A model name a client chose reaches
 * {@code model_caps} through the requests in flight only, so only a management caller sees those: for any other, the
 * list is built from the config and the host's inventory.
 */
final class HostModelsJson {
    private HostModelsJson() {
    }

    /** @param management the caller has the management scope (in-flight model names a glob caps are listed too) */
    static void write(JsonGenerator g, Host host, SlotPool pool, Preloader preloader, boolean management)
            throws IOException {
        Set<String> preload = new HashSet<>();
        host.config().preload().forEach(name -> preload.add(ModelNames.normalise(name)));
        g.writeArrayFieldStart("warm_models");
        for (String name : host.rules().warm()) {
            String canonical = ModelNames.normalise(name);
            g.writeStartObject();
            g.writeStringField("name", canonical);
            g.writeBooleanField("preload", preload.contains(canonical));
            g.writeBooleanField("pinned", host.rules().pinned(canonical));
            g.writeBooleanField("loaded", host.level(canonical) == Host.Level.LOADED);
            Preloader.State state = preloader == null ? null : preloader.state(host, canonical);
            if (state == null) {
                g.writeNullField("load");
            } else {
                g.writeStringField("load", state.label());
            }
            g.writeEndObject();
        }
        g.writeEndArray();
        Set<String> models = new TreeSet<>();
        if (management) {
            models.addAll(pool.modelsInFlight(host).keySet());
        }
        host.config().models().keySet().forEach(name -> models.add(ModelNames.normalise(name)));
        // A fleet glob's cap shows for the models the host has.
        models.addAll(host.inventory().installed());
        models.addAll(host.inventory().loaded().keySet());
        g.writeArrayFieldStart("model_caps");
        for (String model : models) {
            int cap = host.rules().maxConcurrent(model);
            if (cap > 0) {
                g.writeStartObject();
                g.writeStringField("model", model);
                g.writeNumberField("max_concurrent", cap);
                g.writeNumberField("in_flight", pool.inFlight(host, model));
                g.writeEndObject();
            }
        }
        g.writeEndArray();
    }
}
