package io.machvm.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * vm_write and vm_read of 512 MiB through a server whose heap is 128 MiB: the body must stream between the socket and
 * the off-heap page store. The server is the application in a child JVM ({@code -Xmx128m}); the client generates the
 * body as it sends it and checksums the read-back as it arrives, so neither side holds 512 MiB.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class LowHeapStreamingTest {
    private static final long SIZE = 512L << 20;

    private ChildServer server;
    private int port;

    @BeforeAll
    void startServer() throws Exception {
        server = ChildServer.start(List.of("-Xmx128m", "-XX:MaxDirectMemorySize=1g", "-XX:+ExitOnOutOfMemoryError"),
                List.of("--machvm.store.capacity=768MB"), Duration.ofSeconds(90));
        port = server.port();
    }

    @AfterAll
    void stopServer() throws InterruptedException {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void writesAndReadsBack512MiBWithA128MiBHeap() throws Exception {
        String task = "low-heap";
        assertThat(request("PUT", "/tasks/" + task, "{\"flavor\":\"arm64\"}")).isEqualTo(201);
        assertThat(request("POST", "/tasks/" + task + "/allocate",
                "{\"address\":\"0x100000000\",\"size\":\"" + SIZE + "\"}")).isEqualTo(201);

        CRC32 sent = new CRC32();
        HttpURLConnection put = open("PUT", "/tasks/" + task + "/memory/0x100000000");
        put.setRequestProperty("Content-Type", "application/octet-stream");
        put.setDoOutput(true);
        put.setFixedLengthStreamingMode(SIZE);
        try (OutputStream out = put.getOutputStream()) {
            Generator generator = new Generator();
            byte[] chunk = new byte[1 << 16];
            for (long done = 0; done < SIZE; done += chunk.length) {
                generator.fill(chunk);
                sent.update(chunk);
                out.write(chunk);
            }
        }
        assertThat(put.getResponseCode()).as(server.log()).isEqualTo(204);

        CRC32 received = new CRC32();
        HttpURLConnection get = open("GET", "/tasks/" + task + "/memory/0x100000000?size=" + SIZE);
        assertThat(get.getResponseCode()).as(server.log()).isEqualTo(200);
        assertThat(get.getContentLengthLong()).isEqualTo(SIZE);
        long total = 0;
        try (InputStream in = get.getInputStream()) {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                received.update(buffer, 0, n);
                total += n;
            }
        }
        assertThat(total).isEqualTo(SIZE);
        assertThat(received.getValue()).isEqualTo(sent.getValue());
        assertThat(server.isAlive()).as("the server died:\n" + server.log()).isTrue();
        assertThat(server.log()).doesNotContain("OutOfMemoryError");
    }

    private int request(String method, String path, String json) throws IOException {
        HttpURLConnection c = open(method, path);
        c.setRequestProperty("Content-Type", "application/json");
        c.setDoOutput(true);
        try (OutputStream out = c.getOutputStream()) {
            out.write(json.getBytes(StandardCharsets.UTF_8));
        }
        int status = c.getResponseCode();
        c.disconnect();
        return status;
    }

    private HttpURLConnection open(String method, String path) throws IOException {
        HttpURLConnection c = (HttpURLConnection) URI.create("http://localhost:" + port + path).toURL()
                .openConnection();
        c.setRequestMethod(method);
        c.setConnectTimeout(10_000);
        c.setReadTimeout(60_000);
        return c;
    }

    /** Deterministic pseudo-random bytes (xorshift), generated as they are sent. */
    static final class Generator {
        private long state = 0x9E3779B97F4A7C15L;

        void fill(byte[] chunk) {
            for (int i = 0; i < chunk.length; i += 8) {
                state ^= state << 13;
                state ^= state >>> 7;
                state ^= state << 17;
                long v = state;
                for (int j = 0; j < 8; j++) {
                    chunk[i + j] = (byte) (v >>> (j * 8));
                }
            }
        }
    }
}
