package io.machvm.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.vm.KernReturn;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The running service on a random port, shared (one Spring context) by the sandbox-feature tests, with a lean HTTP
 * client and helpers. The page store (256 MB) holds a 64 MiB task, its image restored and a filler; the transfer limit
 * is 64 MB.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"machvm.store.capacity=256MB", "machvm.store.slab-size=16MB", "machvm.api.max-transfer=64MB"})
abstract class SandboxTestSupport {
    static final long MIN = 0x1_0000_0000L;
    static final int PAGE = 16384;
    static final String IMAGE = "application/vnd.machvm.snapshot";
    static final JsonMapper JSON = JsonMapper.builder().build();
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private static final AtomicInteger TASKS = new AtomicInteger();

    @LocalServerPort
    int port;

    // ---------------------------------------------------------------- HTTP

    /** A response: status, headers and body. */
    record Result(int status, java.net.http.HttpHeaders headers, byte[] body) {
        String contentType() {
            return headers.firstValue("Content-Type").orElse("");
        }

        String header(String name) {
            return headers.firstValue(name).orElse(null);
        }

        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        JsonNode json() {
            return JSON.readTree(body);
        }

        Result expect(int expected) {
            if (status != expected) {
                throw new AssertionError("expected " + expected + " but was " + status + ": " + text());
            }
            return this;
        }

        /** Asserts a complete problem of this status and kern; returns it. */
        JsonNode problem(int expectedStatus, KernReturn kern) {
            expect(expectedStatus);
            assertThat(contentType()).as(text()).startsWith("application/problem+json");
            JsonNode p = json();
            assertProblem(p, expectedStatus, kern);
            return p;
        }
    }

    static void assertProblem(JsonNode p, int status, KernReturn kern) {
        assertThat(p.path("type").asString()).as(p.toString()).isEqualTo("/problems/" + kern.name());
        assertThat(p.path("kern").asString()).as(p.toString()).isEqualTo(kern.name());
        assertThat(p.path("kernReturn").asInt()).isEqualTo(kern.value());
        assertThat(p.path("status").asInt()).isEqualTo(status);
        assertThat(p.path("title").asString()).isNotEmpty();
        assertThat(p.path("detail").asString()).isNotEmpty();
        assertThat(p.path("instance").asString()).startsWith("/");
    }

    Result send(String method, String path, String contentType, byte[] body, String... headers) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(body));
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        try {
            HttpResponse<byte[]> response = CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
            return new Result(response.statusCode(), response.headers(), response.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * Sends a request head (request line and headers) without the body it announces, and returns the raw response:
     * for limits the server must enforce before reading a body.
     */
    String rawHead(String requestLine, String headers) throws IOException {
        try (java.net.Socket socket = new java.net.Socket("localhost", port)) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write((requestLine + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                    + headers + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
            java.io.ByteArrayOutputStream response = new java.io.ByteArrayOutputStream();
            byte[] buffer = new byte[8192];
            try {
                for (int n; (n = socket.getInputStream().read(buffer)) > 0; ) {
                    response.write(buffer, 0, n);
                    if (response.toString(StandardCharsets.ISO_8859_1).contains("}")) {
                        break;
                    }
                }
            } catch (java.net.SocketException reset) {
                // the server closed without reading the announced body
            }
            return response.toString(StandardCharsets.ISO_8859_1);
        }
    }

    Result json(String method, String path, String json) {
        return send(method, path, "application/json", json.getBytes(StandardCharsets.UTF_8));
    }

    Result get(String path) {
        return send("GET", path, null, null);
    }

    // ---------------------------------------------------------------- tasks and memory

    static String newId(String prefix) {
        return prefix + "-" + TASKS.incrementAndGet() + "-" + Long.toHexString(System.nanoTime() & 0xffffff);
    }

    /** A new task with a chosen id; {@code settings} is the JSON body. */
    String newTask(String settings) {
        String id = newId("sbx");
        json("PUT", "/tasks/" + id, settings).expect(201);
        return id;
    }

    String newTask() {
        return newTask("{}");
    }

    void terminate(String task) {
        send("DELETE", "/tasks/" + task, null, null).expect(204);
    }

    void allocate(String task, long address, long size) {
        json("POST", "/tasks/" + task + "/allocate", "{\"address\":\"" + hex(address) + "\",\"size\":\"" + hex(size)
                + "\"}").expect(201);
    }

    void inherit(String task, long address, long size, String inheritance) {
        json("POST", "/tasks/" + task + "/inherit", "{\"address\":\"" + hex(address) + "\",\"size\":\"" + hex(size)
                + "\",\"inheritance\":\"" + inheritance + "\"}").expect(204);
    }

    void protect(String task, long address, long size, boolean setMaximum, String protection) {
        json("POST", "/tasks/" + task + "/protect", "{\"address\":\"" + hex(address) + "\",\"size\":\"" + hex(size)
                + "\",\"setMaximum\":" + setMaximum + ",\"protection\":\"" + protection + "\"}").expect(204);
    }

    Result write(String task, long address, byte[] data) {
        return send("PUT", "/tasks/" + task + "/memory/" + hex(address), "application/octet-stream", data);
    }

    Result read(String task, long address, long size) {
        return send("GET", "/tasks/" + task + "/memory/" + hex(address) + "?size=" + hex(size), null, null,
                "Accept", "application/octet-stream");
    }

    byte[] readBytes(String task, long address, long size) {
        return read(task, address, size).expect(200).body();
    }

    JsonNode regions(String task) {
        return get("/tasks/" + task + "/regions").expect(200).json();
    }

    JsonNode taskInfo(String task) {
        return get("/tasks/" + task).expect(200).json();
    }

    JsonNode statistics() {
        return get("/host/statistics").expect(200).json();
    }

    long residentPages() {
        return statistics().path("residentPages").asLong();
    }

    int taskCount() {
        return statistics().path("tasks").asInt();
    }

    List<String> taskIds() {
        List<String> ids = new ArrayList<>();
        for (JsonNode t : get("/tasks").expect(200).json()) {
            ids.add(t.path("id").asString());
        }
        return ids;
    }

    byte[] snapshot(String task) {
        Result r = send("GET", "/tasks/" + task + "/snapshot", null, null, "Accept", IMAGE).expect(200);
        assertThat(r.contentType()).isEqualTo(IMAGE);
        assertThat(r.header("Content-Length")).isEqualTo(Integer.toString(r.body().length));
        return r.body();
    }

    static String hex(long value) {
        return io.machvm.TestBytes.hex(value);
    }

    static byte[] pattern(int size, int seed) {
        return io.machvm.TestBytes.pattern(size, seed);
    }
}
