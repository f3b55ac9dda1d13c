package dev.oqp.queue.webhooks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import com.sun.net.httpserver.HttpServer;
import dev.oqp.common.config.Tier;
import dev.oqp.common.config.WebhooksConfig;
import dev.oqp.queue.metrics.QueueMetrics;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The sender alone against a loopback receiver: an address the guard refuses at delivery (as after a DNS change)
 * is dropped and counted, a full queue drops and counts without blocking, and an endpoint gets only its events.
 */
class WebhooksTest {
    private final QueueMetrics metrics = new QueueMetrics();
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final AtomicInteger hits = new AtomicInteger();
    private final CountDownLatch release = new CountDownLatch(1);
    private HttpServer receiver;
    private Webhooks webhooks;

    @AfterEach
    void tearDown() throws Exception {
        release.countDown();
        if (webhooks != null) {
            webhooks.stop();
        }
        if (receiver != null) {
            receiver.stop(0);
        }
        threads.shutdownNow();
    }

    private String receiver(boolean hang) throws IOException {
        receiver = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        receiver.setExecutor(threads);
        receiver.createContext("/", exchange -> {
            hits.incrementAndGet();
            exchange.getRequestBody().readAllBytes();
            if (hang) {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
        });
        receiver.start();
        return "http://127.0.0.1:" + receiver.getAddress().getPort() + "/hook";
    }

    private Webhooks start(String url, List<String> allowed, int queueSize, List<String> events) throws Exception {
        WebhooksConfig config = new WebhooksConfig(List.of(new WebhooksConfig.Endpoint(url, events, null)),
                null, allowed, queueSize, Duration.ofSeconds(30), 0);
        webhooks = new Webhooks(config, metrics, "test");
        webhooks.start();
        return webhooks;
    }

    private String metricsText() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, metrics.registry.scrape());
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void aDeliveryToAnAddressTheGuardRefusesIsDroppedAndCountedNeverSent() throws Exception {
        // Not in allowed_hosts: as if its DNS answer had turned private after the start-up check.
        start(receiver(false), List.of(), 10, List.of("queue.drained"));

        webhooks.publish(Event.drained());

        await().atMost(Duration.ofSeconds(10)).until(() -> metricsText().contains(
                "oqp_webhook_deliveries_total{event=\"queue.drained\",result=\"dropped_blocked_address\"} 1.0"));
        assertThat(hits).hasValue(0);
    }

    @Test
    void aFullQueueDropsAndCountsWithoutBlockingThePublisher() throws Exception {
        start(receiver(true), List.of("127.0.0.1"), 2, List.of("queue.drained"));

        long start = System.nanoTime();
        for (int i = 0; i < 5; i++) {
            webhooks.publish(Event.drained());
        }
        long millis = (System.nanoTime() - start) / 1_000_000;

        assertThat(millis).as("publishing never waits for the receiver").isLessThan(1000);
        assertThat(metricsText()).contains(
                "oqp_webhook_deliveries_total{event=\"queue.drained\",result=\"dropped_queue_full\"} 3.0");
        await().atMost(Duration.ofSeconds(10)).until(() -> hits.get() == 2);
    }

    @Test
    void anEndpointGetsOnlyTheEventsItLists() throws Exception {
        start(receiver(false), List.of("127.0.0.1"), 10, List.of("queue.drained"));

        webhooks.publish(Event.queueFull(Tier.NORMAL, "app", "req-1"));
        webhooks.publish(Event.drained());

        await().atMost(Duration.ofSeconds(10)).until(() -> metricsText().contains(
                "oqp_webhook_deliveries_total{event=\"queue.drained\",result=\"delivered\"} 1.0"));
        assertThat(hits).hasValue(1);
        assertThat(metricsText()).doesNotContain("event=\"queue.full\"");
    }
}
