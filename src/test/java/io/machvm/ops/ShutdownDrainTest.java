package io.machvm.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.api.ChildServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code machvm.shutdown.drain}: after SIGTERM the node answers readiness with 503 at once, yet keeps serving calls,
 * over connections it already has and new ones, until the drain is over; then it stops.
 */
class ShutdownDrainTest {
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private ChildServer server;

    @AfterEach
    void stopServer() throws InterruptedException {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void aDrainingNodeRefusesReadinessButServesCallsUntilTheDrainIsOver() throws Exception {
        server = ChildServer.start(List.of("-Xmx128m", "-XX:MaxDirectMemorySize=128m"),
                List.of("--machvm.store.capacity=16MB", "--machvm.shutdown.drain=3s"), Duration.ofSeconds(120));
        assertThat(get("/actuator/health/readiness").statusCode()).isEqualTo(200);
        assertThat(send("PUT", "/tasks/drained").statusCode()).isEqualTo(201);

        long signalled = System.nanoTime();
        ProcessHandle.of(server.pid()).orElseThrow().destroy(); // SIGTERM
        int readiness = 200;
        while (readiness == 200 && System.nanoTime() - signalled < TimeUnit.SECONDS.toNanos(2)) {
            readiness = get("/actuator/health/readiness").statusCode();
        }
        assertThat(readiness).as("readiness refuses traffic as soon as the drain begins").isEqualTo(503);
        // calls are still served, on the kept-alive connection and on a new one
        assertThat(get("/tasks/drained").statusCode()).isEqualTo(200);
        HttpClient fresh = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        assertThat(fresh.send(request("GET", "/tasks/drained"), HttpResponse.BodyHandlers.discarding()).statusCode())
                .isEqualTo(200);
        assertThat(System.nanoTime() - signalled).as("all of that within the drain")
                .isLessThan(TimeUnit.SECONDS.toNanos(3));

        assertThat(server.stop(Duration.ofSeconds(60))).as("stopped after the drain").isTrue();
        assertThat(System.nanoTime() - signalled).as("not before the drain was over")
                .isGreaterThanOrEqualTo(TimeUnit.SECONDS.toNanos(3));
    }

    private HttpResponse<Void> get(String path) throws Exception {
        return send("GET", path);
    }

    private HttpResponse<Void> send(String method, String path) throws Exception {
        return client.send(request(method, path), HttpResponse.BodyHandlers.discarding());
    }

    private HttpRequest request(String method, String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .method(method, HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(10)).build();
    }
}
