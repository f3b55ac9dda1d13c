package dev.oqp.queue.routing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oqp.common.config.HostConfig;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** The pure parts of the monitor: parsing the model lists, probe timeouts, failure descriptions. */
class FleetMonitorTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Instant AT = Instant.parse("2025-03-01T12:00:00Z");
    private static final String EMPTY = "{\"models\":[]}";

    private static JsonNode json(String text) {
        try {
            return JSON.readTree(text.replace('\'', '"'));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static Host.Inventory inventory(String tags, String ps) {
        return FleetMonitor.inventory(json(tags), json(ps), AT);
    }

    /** Parsing /api/tags and /api/ps into an inventory. */
    @Nested
    class InventoryParsing {
        @Test
        void tagsListTheInstalledModelsByNameOrModel() {
            Host.Inventory inv = inventory("""
                    {'models':[
                      {'name':'llama3:latest','model':'llama3:latest','size':4661224676,'digest':'365c0bd3c000'},
                      {'model':'mistral:7b'},
                      {'name':'','model':'phi3:mini'},
                      {'name':'qwen2:7b','model':'something-else:1b'}
                    ]}""", EMPTY);

            assertThat(inv.installed()).containsExactlyInAnyOrder("llama3:latest", "mistral:7b", "phi3:mini", "qwen2:7b");
            assertThat(inv.loaded()).isEmpty();
            assertThat(inv.syncedAt()).isEqualTo(AT);
        }

        @Test
        void psListsTheLoadedModelsWithExpiryAndVram() {
            Host.Inventory inv = inventory(EMPTY, """
                    {'models':[
                      {'name':'llama3:latest','model':'llama3:latest','size':5137025024,
                       'expires_at':'2025-03-01T12:04:59.123456789Z','size_vram':5137025024},
                      {'model':'Mistral:7B','size_vram':42}
                    ]}""");

            assertThat(inv.loaded()).containsOnlyKeys("llama3:latest", "mistral:7b");
            assertThat(inv.loaded().get("llama3:latest"))
                    .isEqualTo(new Host.Loaded("llama3:latest", "2025-03-01T12:04:59.123456789Z", 5137025024L));
            assertThat(inv.loaded().get("mistral:7b")).as("named as the host spells it")
                    .isEqualTo(new Host.Loaded("Mistral:7B", null, 42));
            assertThat(inv.installed()).as("ps does not fill the installed list").isEmpty();
        }

        @Test
        void namesAreNormalised() {
            Host.Inventory inv = inventory("""
                    {'models':[
                      {'name':'library/llama3'},
                      {'name':'LLaMA3:Latest'},
                      {'name':'registry.ollama.ai/library/qwen2:7B'},
                      {'name':'gemma2@sha256:abcdef'},
                      {'name':'mattw/pygmalion'}
                    ]}""", "{'models':[{'name':'Library/Llama3'}]}");

            assertThat(inv.installed()).containsExactlyInAnyOrder("llama3:latest", "qwen2:7b", "gemma2:latest",
                    "mattw/pygmalion:latest");
            assertThat(inv.loaded()).containsOnlyKeys("llama3:latest");
            assertThat(inv.loaded().get("llama3:latest").name()).isEqualTo("Library/Llama3");
        }

        @Test
        void aShortNameInARequestMatchesTheLatestTagOfTheHost() {
            Fleet fleet = new Fleet(List.of(new HostConfig("a",
                    URI.create("http://a:11434"), 1, 1, Map.of())));
            Host a = fleet.host("a");
            fleet.inventory(a, inventory("{'models':[{'name':'llama3:latest'}]}", "{'models':[{'name':'phi3'}]}"));

            assertThat(a.level(ModelNames.normalise("llama3"))).isEqualTo(Host.Level.INSTALLED);
            assertThat(a.level(ModelNames.normalise("phi3:latest"))).isEqualTo(Host.Level.LOADED);
            assertThat(a.level(ModelNames.normalise("llama3:8b"))).isEqualTo(Host.Level.ABSENT);
        }

        @Test
        void garbageEntriesAreSkipped() {
            Host.Inventory inv = inventory("""
                    {'models':[
                      42, null, 'llama3', [], {},
                      {'name':7}, {'name':'   '}, {'name':null}, {'model':{'x':1}}, {'name':true,'model':false},
                      {'name':'ok:1'}
                    ]}""", """
                    {'models':[
                      'phi3', {}, {'name':''}, {'size_vram':9},
                      {'name':'ok:1','expires_at':12345,'size_vram':'lots'}
                    ]}""");

            assertThat(inv.installed()).containsExactly("ok:1");
            assertThat(inv.loaded()).containsOnlyKeys("ok:1");
            assertThat(inv.loaded().get("ok:1")).as("a non-text expiry is dropped, an unreadable size is 0")
                    .isEqualTo(new Host.Loaded("ok:1", null, 0));
        }

        @Test
        void missingOrMisshapenListsAreEmpty() {
            for (String body : new String[] {"{}", "{'models':null}", "{'models':'llama3'}", "{'models':42}", "[]",
                    "'text'", "{'data':[{'id':'llama3'}]}"}) {
                Host.Inventory inv = inventory(body, body);
                assertThat(inv.installed()).as(body).isEmpty();
                assertThat(inv.loaded()).as(body).isEmpty();
                assertThat(inv.syncedAt()).as(body).isEqualTo(AT);
            }
        }

        @Test
        void theSameModelListedTwiceIsOneEntry() {
            Host.Inventory inv = inventory("{'models':[{'name':'llama3'},{'name':'llama3:latest'},{'name':'llama3:8b'}]}",
                    "{'models':[{'name':'llama3'},{'name':'library/llama3:latest'}]}");

            assertThat(inv.installed()).containsExactlyInAnyOrder("llama3:latest", "llama3:8b");
            assertThat(inv.loaded()).hasSize(1).containsKey("llama3:latest");
        }
    }

    @Nested
    class ProbeTimeout {
        @Test
        void probeTimeoutIsThePeriodBetweenOneAndFiveSeconds() {
            assertThat(FleetMonitor.timeout(Duration.ZERO)).isEqualTo(Duration.ofSeconds(1));
            assertThat(FleetMonitor.timeout(Duration.ofMillis(200))).isEqualTo(Duration.ofSeconds(1));
            assertThat(FleetMonitor.timeout(Duration.ofMillis(999))).isEqualTo(Duration.ofSeconds(1));
            assertThat(FleetMonitor.timeout(Duration.ofSeconds(1))).isEqualTo(Duration.ofSeconds(1));
            assertThat(FleetMonitor.timeout(Duration.ofMillis(2500))).isEqualTo(Duration.ofMillis(2500));
            assertThat(FleetMonitor.timeout(Duration.ofSeconds(5))).isEqualTo(Duration.ofSeconds(5));
            assertThat(FleetMonitor.timeout(Duration.ofMillis(5001))).isEqualTo(Duration.ofSeconds(5));
            assertThat(FleetMonitor.timeout(Duration.ofMinutes(10))).isEqualTo(FleetMonitor.MAX_PROBE_TIMEOUT);
            assertThat(FleetMonitor.MAX_PROBE_TIMEOUT).isEqualTo(Duration.ofSeconds(5));
        }
    }

    /** How a failed probe is described. */
    @Nested
    class FailureDescription {
        @Test
        void aRefusedConnectionIsDescribedInAFewWords() {
            ConnectException refused = new ConnectException("Connection refused: http://a:11434");

            assertThat(FleetMonitor.describe(refused)).isEqualTo("connection refused");
            assertThat(FleetMonitor.describe(new ExecutionException(new IOException("wrapped", refused))))
                    .as("the root cause counts").isEqualTo("connection refused");
        }

        @Test
        void timeoutsAreDescribedAsTimedOut() {
            assertThat(FleetMonitor.describe(new TimeoutException("Total timeout 1000 ms elapsed"))).isEqualTo("timed out");
            assertThat(FleetMonitor.describe(new SocketTimeoutException("Connect Timeout"))).isEqualTo("timed out");
            assertThat(FleetMonitor.describe(new CompletionException(new TimeoutException())))
                    .isEqualTo("timed out");
        }

        @Test
        void otherFailuresAreTheRootClassAndMessage() {
            assertThat(FleetMonitor.describe(new RuntimeException("outer", new EOFException("early EOF"))))
                    .isEqualTo("EOFException: early EOF");
            assertThat(FleetMonitor.describe(new IllegalStateException())).isEqualTo("IllegalStateException");
            assertThat(FleetMonitor.describe(new IOException("boom"))).isEqualTo("IOException: boom");
        }

        @Test
        void theDescriptionHasNoStackTrace() {
            String text = FleetMonitor.describe(new RuntimeException(new IOException("x")));

            assertThat(text).doesNotContain("\n").doesNotContain("\tat ").doesNotContain("RuntimeException");
        }
    }
}
