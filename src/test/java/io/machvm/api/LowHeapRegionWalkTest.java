package io.machvm.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.databind.json.JsonMapper;

/**
 * Four concurrent region walks of a 150,000-entry task through a server whose heap is 96 MiB: the walk must stream its
 * answer, holding a bounded part of it at a time. Built whole, one answer takes more than half of that heap. The
 * server is the application in a child JVM; each answer is parsed as it arrives and checked entry by entry.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class LowHeapRegionWalkTest {
    private static final int ENTRIES = 150_000;
    private static final int BATCH = 10_000;
    private static final int WALKS = 4;
    private static final long BASE = 0x1_0000_0000L;
    private static final long SIZE = 0x4000;
    private static final long STRIDE = 0x8000; // a hole between entries, so that none coalesce

    private final JsonMapper mapper = JsonMapper.builder().build();
    private ChildServer server;
    private int port;

    @BeforeAll
    void startServer() throws Exception {
        server = ChildServer.start(List.of("-Xmx96m", "-XX:+ExitOnOutOfMemoryError"),
                List.of("--machvm.store.capacity=32MB", "--machvm.limits.max-map-entries=400000",
                        "--machvm.limits.max-map-entries-per-task=200000"), Duration.ofSeconds(120));
        port = server.port();
    }

    @AfterAll
    void stopServer() throws InterruptedException {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void fourConcurrentWalksOfA150kEntryTaskWithA96MiBHeap() throws Exception {
        String task = "many-entries";
        assertThat(send("PUT", "/tasks/" + task, "{\"flavor\":\"arm64\"}")).isEqualTo(201);
        for (int from = 0; from < ENTRIES; from += BATCH) {
            StringBuilder body = new StringBuilder("{\"atomic\":true,\"calls\":[");
            for (int i = from; i < from + BATCH; i++) {
                body.append(i == from ? "" : ",").append("{\"call\":\"vm_allocate\",\"address\":\"0x")
                        .append(Long.toHexString(BASE + i * STRIDE)).append("\",\"size\":\"0x4000\"}");
            }
            assertThat(send("POST", "/tasks/" + task + "/batch", body.append("]}").toString()))
                    .as(server.log()).isEqualTo(200);
        }

        try (ExecutorService pool = Executors.newFixedThreadPool(WALKS)) {
            List<Future<Integer>> walks = new ArrayList<>();
            for (int w = 0; w < WALKS; w++) {
                walks.add(pool.submit(() -> walk(task)));
            }
            for (Future<Integer> walk : walks) {
                int entries;
                try {
                    entries = walk.get(240, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    throw new AssertionError("a walk failed; the server's log:\n" + server.log(), e.getCause());
                }
                assertThat(entries).isEqualTo(ENTRIES);
            }
        }
        assertThat(server.isAlive()).as("the server died:\n" + server.log()).isTrue();
        assertThat(server.log()).doesNotContain("OutOfMemoryError");

        HttpURLConnection missing = open("GET", "/tasks/no-such-task/regions");
        assertThat(missing.getResponseCode()).isEqualTo(404);
        assertThat(missing.getContentType()).startsWith("application/problem+json");
        missing.disconnect();
    }

    /** Walks the task's regions, checking each entry as it arrives; the number of entries. */
    private int walk(String task) throws IOException {
        HttpURLConnection get = open("GET", "/tasks/" + task + "/regions");
        assertThat(get.getResponseCode()).as(server.log()).isEqualTo(200);
        assertThat(get.getContentType()).startsWith("application/json");
        int count = 0;
        try (InputStream in = get.getInputStream(); JsonParser p = mapper.createParser(in)) {
            assertThat(p.nextToken()).isEqualTo(JsonToken.START_ARRAY);
            while (p.nextToken() == JsonToken.START_OBJECT) {
                List<String> fields = new ArrayList<>();
                List<String> values = new ArrayList<>();
                while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                    fields.add(p.currentName());
                    p.nextToken();
                    values.add(p.getString());
                }
                assertThat(fields).containsExactly("address", "size", "protection", "maxProtection", "inheritance",
                        "shared", "offset");
                assertThat(values).containsExactly("0x" + Long.toHexString(BASE + count * STRIDE), "0x4000", "rw-",
                        "rwx", "copy", "false", "0x0");
                count++;
            }
            assertThat(p.currentToken()).isEqualTo(JsonToken.END_ARRAY);
            assertThat(p.nextToken()).isNull();
        }
        return count;
    }

    private int send(String method, String path, String json) throws IOException {
        HttpURLConnection c = open(method, path);
        c.setRequestProperty("Content-Type", "application/json");
        c.setDoOutput(true);
        try (OutputStream out = c.getOutputStream()) {
            out.write(json.getBytes(StandardCharsets.UTF_8));
        }
        int status = c.getResponseCode();
        try (InputStream in = status < 400 ? c.getInputStream() : c.getErrorStream()) {
            if (in != null) {
                in.readAllBytes();
            }
        }
        c.disconnect();
        return status;
    }

    private HttpURLConnection open(String method, String path) throws IOException {
        HttpURLConnection c = (HttpURLConnection) URI.create("http://localhost:" + port + path).toURL()
                .openConnection();
        c.setRequestMethod(method);
        c.setConnectTimeout(10_000);
        c.setReadTimeout(120_000);
        return c;
    }
}
