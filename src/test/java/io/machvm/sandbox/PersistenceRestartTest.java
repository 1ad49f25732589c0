package io.machvm.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.api.ChildServer;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * Tasks survive a real restart: the application runs in a child JVM with {@code machvm.persistence.directory}, is
 * stopped gracefully (SIGTERM), and started again on the same directory; a corrupt task image there is set aside.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class PersistenceRestartTest {
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private static final long A = 0x1_0000_0000L;

    @TempDir
    Path directory;

    private ChildServer server;
    private int port;

    @AfterEach
    void stopServer() throws InterruptedException {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void tasksRegionsAndBytesSurviveAGracefulRestart() throws Exception {
        start();
        assertThat(send("PUT", "/tasks/keep-arm", "application/json", "{\"name\":\"kept\",\"errors\":\"xnu\"}")
                .statusCode()).isEqualTo(201);
        assertThat(send("PUT", "/tasks/keep-x86", "application/json", "{\"flavor\":\"x86_64\"}").statusCode())
                .isEqualTo(201);
        assertThat(send("PUT", "/tasks/gone", "application/json", "{}").statusCode()).isEqualTo(201);
        byte[] data = new byte[3 * 16384 + 11];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 7 + 3);
        }
        for (String task : List.of("keep-arm", "keep-x86")) {
            assertThat(send("POST", "/tasks/" + task + "/allocate", "application/json",
                    "{\"address\":\"0x100000000\",\"size\":\"0x20000\"}").statusCode()).isEqualTo(201);
            assertThat(send("POST", "/tasks/" + task + "/allocate", "application/json",
                    "{\"address\":\"0x200000000\",\"size\":\"0x40000000\"}").statusCode()).isEqualTo(201);
            assertThat(sendBytes("PUT", "/tasks/" + task + "/memory/0x100000005", data).statusCode()).isEqualTo(204);
            assertThat(send("POST", "/tasks/" + task + "/protect", "application/json",
                    "{\"address\":\"0x100010000\",\"size\":\"0x4000\",\"protection\":\"r--\"}").statusCode())
                    .isEqualTo(204);
            assertThat(send("POST", "/tasks/" + task + "/inherit", "application/json",
                    "{\"address\":\"0x100000000\",\"size\":\"0x4000\",\"inheritance\":\"none\"}").statusCode())
                    .isEqualTo(204);
        }
        assertThat(send("DELETE", "/tasks/gone", null, null).statusCode()).isEqualTo(204);
        String tasksBefore = body(send("GET", "/tasks", null, null));
        String armRegions = body(send("GET", "/tasks/keep-arm/regions", null, null));
        String x86Regions = body(send("GET", "/tasks/keep-x86/regions", null, null));
        stop();

        assertThat(directory.resolve("checkpoint.machvm-log")).exists();
        assertThat(directory.resolve("keep-arm.machvm")).as("tasks live in the checkpoint log").doesNotExist();
        // a file that is not an image is set aside, and the server starts all the same
        Files.write(directory.resolve("broken.machvm"), "not an image".getBytes(StandardCharsets.US_ASCII));

        start();
        assertThat(body(send("GET", "/tasks", null, null))).isEqualTo(tasksBefore);
        assertThat(body(send("GET", "/tasks/keep-arm/regions", null, null))).isEqualTo(armRegions);
        assertThat(body(send("GET", "/tasks/keep-x86/regions", null, null))).isEqualTo(x86Regions);
        JsonNode arm = SandboxTestSupport.JSON.readTree(body(send("GET", "/tasks/keep-arm", null, null)));
        assertThat(arm.path("name").asString()).isEqualTo("kept");
        assertThat(arm.path("errors").asString()).isEqualTo("xnu");
        for (String task : List.of("keep-arm", "keep-x86")) {
            HttpResponse<byte[]> read = CLIENT.send(request("GET", "/tasks/" + task + "/memory/0x100000005?size="
                    + data.length).header("Accept", "application/octet-stream").build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertThat(read.statusCode()).isEqualTo(200);
            assertThat(read.body()).isEqualTo(data);
        }
        assertThat(send("GET", "/tasks/gone", null, null).statusCode()).isEqualTo(404);
        assertThat(directory.resolve("broken.machvm.rejected")).exists();
        assertThat(directory.resolve("broken.machvm")).doesNotExist();
        assertThat(server.log()).contains("cannot restore task broken", "restored 2 task(s)");
        stop();
        assertThat(directory.resolve("broken.machvm.rejected")).as("kept for a person to look at").exists();
    }

    private void start() throws Exception {
        server = ChildServer.start(List.of("-Xmx256m", "-XX:MaxDirectMemorySize=512m"),
                List.of("--machvm.store.capacity=256MB", "--machvm.persistence.directory=" + directory),
                Duration.ofSeconds(120));
        port = server.port();
    }

    /** SIGTERM: Spring's graceful shutdown, during which the tasks are saved; then waits for the exit. */
    private void stop() throws InterruptedException {
        assertThat(server.stop(Duration.ofSeconds(60))).as("the server exits:\n" + server.log()).isTrue();
        assertThat(server.log()).as(server.log()).contains("saved ");
    }

    private HttpRequest.Builder request(String method, String path) {
        return HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).timeout(
                Duration.ofSeconds(30)).method(method, HttpRequest.BodyPublishers.noBody());
    }

    private HttpResponse<String> send(String method, String path, String contentType, String body)
            throws IOException, InterruptedException {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (contentType != null) {
            r.header("Content-Type", contentType);
        }
        return CLIENT.send(r.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> sendBytes(String method, String path, byte[] body)
            throws IOException, InterruptedException {
        return CLIENT.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .header("Content-Type", "application/octet-stream")
                .method(method, HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String body(HttpResponse<String> response) {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return response.body();
    }
}
