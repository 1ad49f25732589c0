package io.machvm.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.api.ChildServer;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * SIGKILL, for real: the application runs in a child JVM with a 1 s checkpoint interval and is killed with
 * {@code kill -9}. Every change acknowledged more than an interval before the kill is there after a restart, a
 * deleted task stays deleted, forks still share their pages and fit the same store, and a second process on the
 * same directory is refused while the first lives.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class CrashRecoveryTest {
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private static final long A = 0x1_0000_0000L;
    private static final int P = 16384;
    /** Longer than the interval plus a pass. */
    private static final long SETTLE_MILLIS = 2500;

    @TempDir
    Path directory;

    private final List<Process> others = new ArrayList<>();
    private final List<ChildServer> servers = new ArrayList<>();
    private ChildServer server;
    private int port;

    @AfterEach
    void killServers() throws InterruptedException {
        for (ChildServer s : servers) {
            s.kill(Duration.ofSeconds(20));
        }
        for (Process p : others) {
            if (p.isAlive()) {
                p.destroyForcibly();
                p.waitFor(20, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void sigkillKeepsEveryChangeOlderThanTheInterval() throws Exception {
        start("64MB");
        put("/tasks/x", "{}");
        allocate("x", A, 4 * P);
        write("x", A, "version 1");
        put("/tasks/y", "{}");
        allocate("y", A, P);
        write("y", A, "doomed");
        Thread.sleep(SETTLE_MILLIS);

        write("x", A, "version 2");
        assertThat(send("DELETE", "/tasks/y", null).statusCode()).isEqualTo(204);
        put("/tasks/z", "{\"name\":\"made after the last checkpoint of x\"}");
        allocate("z", A, P);
        write("z", A, "zed");
        Thread.sleep(SETTLE_MILLIS);
        kill();

        start("64MB");
        assertThat(read("x", A, 9)).isEqualTo("version 2");
        assertThat(send("GET", "/tasks/y", null).statusCode()).as("deleted stays deleted").isEqualTo(404);
        assertThat(read("z", A, 3)).isEqualTo("zed");
        assertThat(json("/tasks/z").path("name").asString()).isEqualTo("made after the last checkpoint of x");
    }

    @Test
    void forksShareTheirPagesAndFitAfterSigkill() throws Exception {
        // 16 MiB of 16 KiB pages: the parent's 600 written pages fit twice only because the fork shares them
        start("16MB");
        put("/tasks/parent", "{}");
        allocate("parent", A, 640L * P);
        byte[] bytes = new byte[600 * P];
        for (int i = 0; i < bytes.length; i += 512) {
            bytes[i] = (byte) (i / P + 1);
        }
        assertThat(sendBytes("/tasks/parent/memory/0x" + Long.toHexString(A), bytes).statusCode()).isEqualTo(204);
        assertThat(send("POST", "/tasks/parent/inherit", "{\"address\":\"0x" + Long.toHexString(A + 620L * P)
                + "\",\"size\":\"0x" + Long.toHexString(4L * P) + "\",\"inheritance\":\"share\"}").statusCode())
                .isEqualTo(204);
        write("parent", A + 620L * P, "shared one");
        put("/tasks/child", "{\"parent\":\"parent\"}");
        write("child", A, "child's own");
        JsonNode before = json("/host/statistics");
        assertThat(before.path("sharedPages").asLong()).isGreaterThanOrEqualTo(599);
        Thread.sleep(SETTLE_MILLIS);
        kill();

        start("16MB");
        JsonNode after = json("/host/statistics");
        assertThat(after.path("residentPages").asLong()).isEqualTo(before.path("residentPages").asLong());
        assertThat(after.path("sharedPages").asLong()).isEqualTo(before.path("sharedPages").asLong());
        assertThat(read("child", A, 11)).isEqualTo("child's own");
        assertThat(read("parent", A + 5L * P, 1)).isEqualTo(new String(new byte[] {6}, StandardCharsets.ISO_8859_1));
        write("parent", A + 620L * P, "shared two");
        assertThat(read("child", A + 620L * P, 10)).as("inheritance share survives").isEqualTo("shared two");
    }

    @Test
    void aSecondProcessOnTheDirectoryIsRefusedWithOneLine() throws Exception {
        start("16MB");
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        Process second = new ProcessBuilder(java, "-Xmx128m", "-cp", ChildServer.applicationClassPath(),
                "io.machvm.MachvmApplication", "--server.port=0", "--machvm.store.capacity=16MB",
                "--machvm.persistence.directory=" + directory, "--spring.main.banner-mode=off")
                .redirectErrorStream(true).start();
        others.add(second);
        String output = new String(second.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(second.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(second.exitValue()).as(output).isEqualTo(1);
        assertThat(output).contains("machvm.persistence.directory " + directory
                + " is in use by another live process (pid " + server.pid() + ")").doesNotContain("\tat ");
        assertThat(json("/host/statistics").path("tasks").asInt()).as("the first one is unharmed").isZero();
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private void start(String capacity) throws Exception {
        server = ChildServer.start(List.of("-Xmx256m", "-XX:MaxDirectMemorySize=512m"),
                List.of("--machvm.store.capacity=" + capacity, "--machvm.persistence.directory=" + directory,
                        "--machvm.persistence.checkpoint-interval=1s"), Duration.ofSeconds(120));
        servers.add(server);
        port = server.port();
    }

    /** {@code kill -9}: no shutdown hook, no last checkpoint. */
    private void kill() throws InterruptedException {
        assertThat(server.kill(Duration.ofSeconds(30))).as("killed by SIGKILL").isEqualTo(137);
        assertThat(server.log()).doesNotContain("saved ");
    }

    private void put(String path, String body) throws Exception {
        HttpResponse<String> r = send("PUT", path, body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    }

    private void allocate(String task, long address, long size) throws Exception {
        HttpResponse<String> r = send("POST", "/tasks/" + task + "/allocate", "{\"address\":\"0x"
                + Long.toHexString(address) + "\",\"size\":\"0x" + Long.toHexString(size) + "\"}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    }

    private void write(String task, long address, String text) throws Exception {
        HttpResponse<String> r = sendBytes("/tasks/" + task + "/memory/0x" + Long.toHexString(address),
                text.getBytes(StandardCharsets.ISO_8859_1));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(204);
    }

    private String read(String task, long address, int length) throws Exception {
        HttpResponse<byte[]> r = CLIENT.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port
                + "/tasks/" + task + "/memory/0x" + Long.toHexString(address) + "?size=" + length))
                .header("Accept", "application/octet-stream").build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(r.statusCode()).as(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo(200);
        return new String(r.body(), StandardCharsets.ISO_8859_1);
    }

    private JsonNode json(String path) throws Exception {
        HttpResponse<String> r = send("GET", path, null);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return SandboxTestSupport.JSON.readTree(r.body());
    }

    private HttpResponse<String> send(String method, String path, String body) throws Exception {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            r.header("Content-Type", "application/json");
        }
        return CLIENT.send(r.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> sendBytes(String path, byte[] body) throws Exception {
        return CLIENT.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .header("Content-Type", "application/octet-stream")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
