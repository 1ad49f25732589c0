package io.machvm.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;

/**
 * Bad input never hurts: a seeded fuzzer sends {@code machvm.fuzz.requests} (default 10,000) random requests to the
 * running service, about 5% of them through raw sockets (chunked and broken chunked bodies, Content-Length that lies,
 * bodies cut short or reset, odd request lines and headers). Every answer must be a 2xx or a 4xx
 * {@code application/problem+json} with a {@code kern}, never a 5xx, HTML, a stack trace or a Java class name; the
 * server must be healthy afterwards, serve a normal scenario and hold no page once every task is gone.
 *
 * <p>The seed is random unless {@code -Dmachvm.fuzz.seed=N} is given; it is printed at the start and in every failure.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
    "machvm.store.capacity=256MB", "machvm.store.slab-size=16MB", "machvm.api.max-transfer=1MB"})
@Timeout(value = 600, unit = TimeUnit.SECONDS)
class BadInputFuzzTest {
    private static final long SEED = Long.getLong("machvm.fuzz.seed", new SecureRandom().nextLong());
    private static final int REQUESTS = Integer.getInteger("machvm.fuzz.requests", 10_000);
    /** Every this many requests one goes through a raw socket instead of the JDK client. */
    private static final int RAW_EVERY = 20;
    private static final List<String> POOL = List.of("fz-arm", "fz-x86", "fz-xnu");
    private static final long MIN = FuzzInputs.MIN;

    private static final String END = " HTTP/1.1\r\nHost: x\r\n\r\n";
    private static final String[] ODD_REQUEST_LINES = {
        "GET /tasks HTTP/1.0\r\n\r\n",
        "GET /tasks HTTP/2.0\r\nHost: x\r\n\r\n",
        "GET /tasks HTTP/9.9\r\nHost: x\r\n\r\n",
        "GET /tasks\r\n\r\n", // HTTP/0.9
        "get /tasks" + END,
        "GET http://evil.example/tasks" + END,
        "OPTIONS *" + END,
        "CONNECT localhost:80" + END,
        "GET /tasks/a b/regions" + END,
        "GET /tasks/\u00e9\u4e2d" + END,
        "GET /tasks/\u0000" + END,
        "GET\t/tasks\tHTTP/1.1\r\nHost: x\r\n\r\n",
        "GET  /tasks  HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /" + "a".repeat(10_000) + END,
        "\r\n\r\n",
        "GARBAGE\r\n\r\n",
        "GET /tasks HTTP/1.1\nHost: x\n\n",
        "GET /tasks?%zz=1" + END,
        "GET /tasks/%zz" + END,
        "GET /tasks/a%2Fb/regions" + END,
        "GET /tasks/%c0%ae%c0%ae/regions" + END,
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    };
    private static final String[] ODD_HEADERS = {
        "",
        "Host: a\r\nHost: b\r\n",
        "NoColon\r\n",
        " folded: x\r\n",
        "X-Big: " + "x".repeat(10_000) + "\r\n",
        "X-A: 1\r\n".repeat(200),
        "Content Type: x\r\n",
        "X-\u0001: y\r\n",
        "Expect: foo\r\n",
        "Expect: 100-continue\r\n",
        "Connection: upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                + "Sec-WebSocket-Version: 13\r\n",
        "Content-Type: application/json\r\nContent-Type: text/plain\r\n",
        "Accept: \u00ff\r\n",
    };

    @LocalServerPort
    int port;

    private Client http;
    private final Map<String, Integer> histogram = new TreeMap<>();
    private String current;
    private final List<String> failures = new ArrayList<>();
    /** The run goes on after a bad answer, to report several at once, up to this many. */
    private static final int MAX_FAILURES = 20;

    @Test
    void randomRequestsAreAnsweredWithSuccessOrAProblemAndTheServerStaysHealthy() {
        System.out.println("BadInputFuzzTest: " + REQUESTS + " requests, seed " + SEED + " (-Dmachvm.fuzz.seed=" + SEED
                + ")");
        http = new Client(port);
        Random random = new Random(SEED);
        FuzzInputs in = new FuzzInputs(random, POOL);
        long start = System.nanoTime();
        long cpuStart = cpuNanos();
        for (int i = 0; i < REQUESTS; i++) {
            if (i % 1000 == 0) {
                resetPool();
            }
            current = "(none)";
            try {
                if (i % RAW_EVERY == RAW_EVERY - 1) {
                    rawCase(in, random);
                } else {
                    FuzzInputs.Request request = in.next();
                    current = request.describe();
                    if (request.raw()) {
                        sendRaw(request);
                    } else {
                        sendWithClient(request);
                    }
                }
            } catch (AssertionError | RuntimeException | IOException e) {
                failures.add("#" + i + ": " + current + "\n    " + e.getMessage());
                if (failures.size() >= MAX_FAILURES) {
                    break;
                }
            }
        }
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        System.out.println("BadInputFuzzTest: " + REQUESTS + " requests in " + millis + " ms (JVM CPU "
                + (cpuNanos() - cpuStart) / 1_000_000 + " ms), answers " + histogram);
        if (!failures.isEmpty()) {
            throw new AssertionError(failures.size() + " bad answer(s) (seed " + SEED
                    + ", rerun with -Dmachvm.fuzz.seed=" + SEED + "):\n  " + String.join("\n  ", failures));
        }

        assertHealthyAfterwards();
    }

    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private void assertHealthyAfterwards() {
        JsonNode health = http.get("/actuator/health").expect(200).json();
        assertThat(health.path("status").asString()).isEqualTo("UP");

        // A normal scenario still works.
        deleteAllTasks();
        http.json("PUT", "/tasks/after-fuzz", "{}").expect(201);
        http.json("POST", "/tasks/after-fuzz/allocate", "{\"address\":\"0x100000000\",\"size\":\"0x8000\"}")
                .expect(201);
        byte[] hello = "hello, mach".getBytes(StandardCharsets.US_ASCII);
        http.octets("PUT", "/tasks/after-fuzz/memory/0x100000000", hello).expect(204);
        http.json("POST", "/tasks/after-fuzz/copy",
                "{\"sourceAddress\":\"0x100000000\",\"size\":\"0x4000\",\"destAddress\":\"0x100004000\"}").expect(204);
        assertThat(http.get("/tasks/after-fuzz/memory/0x100004000?size=11").expect(200).body()).isEqualTo(hello);
        http.send("DELETE", "/tasks/after-fuzz", null).expect(204);

        // And nothing the fuzzer did is still holding memory.
        JsonNode stats = http.get("/host/statistics").expect(200).json();
        assertThat(stats.path("tasks").asInt()).isZero();
        assertThat(stats.path("residentPages").asLong()).as("resident pages after every task is gone").isZero();
        assertThat(stats.path("sharedPages").asLong()).isZero();
    }

    // ---------------------------------------------------------------- the pool of tasks the fuzzer aims at

    private void deleteAllTasks() {
        for (JsonNode t : http.get("/tasks").expect(200).json()) {
            http.send("DELETE", "/tasks/" + t.path("id").asString(), null);
        }
    }

    /** Drops every task (the fuzzer creates some) and recreates the pool with mapped, partly protected memory. */
    private void resetPool() {
        deleteAllTasks();
        String[] settings = {"{\"flavor\":\"arm64\"}", "{\"flavor\":\"x86_64\"}", "{\"errors\":\"xnu\"}"};
        for (int i = 0; i < POOL.size(); i++) {
            String t = POOL.get(i);
            http.json("PUT", "/tasks/" + t, settings[i]).expect(201);
            http.json("POST", "/tasks/" + t + "/allocate", "{\"address\":\"0x100000000\",\"size\":\"0x100000\"}")
                    .expect(201);
            http.json("POST", "/tasks/" + t + "/allocate", "{\"address\":\"0x100100000\",\"size\":\"0x20000\"}")
                    .expect(201);
            http.json("POST", "/tasks/" + t + "/protect",
                    "{\"address\":\"0x100100000\",\"size\":\"0x10000\",\"setMaximum\":false,\"protection\":\"r--\"}")
                    .expect(204);
            http.json("POST", "/tasks/" + t + "/protect",
                    "{\"address\":\"0x100110000\",\"size\":\"0x10000\",\"setMaximum\":true,\"protection\":\"---\"}")
                    .expect(204);
            http.octets("PUT", "/tasks/" + t + "/memory/0x100000000", new byte[40_000]).expect(204);
        }
    }

    // ---------------------------------------------------------------- sending

    private void count(int status) {
        String key = status == RawHttp.NO_STATUS_LINE ? "HTTP/0.9"
                : status == HEAD_TOO_LARGE_RESET ? "head over the limit, reset" : String.valueOf(status);
        histogram.merge(key, 1, Integer::sum);
    }

    private void sendWithClient(FuzzInputs.Request request) throws IOException {
        Client.Result result;
        try {
            result = http.send(request.method(), request.path(), request.body(),
                    request.headers().toArray(new String[0]));
        } catch (IllegalArgumentException refusedByTheJdk) {
            sendRaw(request); // a header or method the JDK client will not send
            return;
        } catch (java.io.UncheckedIOException lost) {
            if (headBytes(request) <= HEAD_LIMIT) {
                throw lost;
            }
            // Tomcat answers a head over its limit with a 400 problem (ExposureTest reads it) and closes the
            // connection with the rest of the request unread, so TCP may reset it before the client reads the answer.
            // The server must still be well: the next request checks.
            count(HEAD_TOO_LARGE_RESET);
            return;
        }
        count(result.status());
        result.kern(false);
    }

    /** Tomcat's default limit on the request line plus headers (server.max-http-request-header-size). */
    private static final int HEAD_LIMIT = 8 * 1024;
    private static final int HEAD_TOO_LARGE_RESET = -2;

    private static int headBytes(FuzzInputs.Request request) {
        int bytes = request.method().length() + request.path().getBytes(StandardCharsets.UTF_8).length + 64;
        for (String h : request.headers()) {
            bytes += h.getBytes(StandardCharsets.UTF_8).length + 2;
        }
        return bytes;
    }

    private void sendRaw(FuzzInputs.Request request) throws IOException {
        StringBuilder head = new StringBuilder(request.method()).append(' ').append(request.path())
                .append(" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for (int i = 0; i + 1 < request.headers().size(); i += 2) {
            head.append(request.headers().get(i)).append(": ").append(request.headers().get(i + 1)).append("\r\n");
        }
        byte[] body = request.body() == null ? new byte[0] : request.body();
        if (request.body() != null) {
            head.append("Content-Length: ").append(body.length).append("\r\n");
        }
        head.append("\r\n");
        try (RawHttp raw = new RawHttp(port)) {
            boolean sent = true;
            try {
                raw.send(RawHttp.concat(head.toString().getBytes(StandardCharsets.UTF_8), body)).shutdownOutput();
            } catch (java.net.SocketException closedEarly) {
                // Tomcat refused the head (a request line the JDK client would not send, such as a space in the
                // path) and closed before the body was sent: read what it said, if TCP kept it
                sent = false;
            }
            readAll(raw, request.method().equals("HEAD"), sent);
        }
    }

    /** Reads and checks every answer on the connection; returns how many there were. */
    private int readAll(RawHttp raw, boolean head, boolean answerRequired) throws IOException {
        int answers = 0;
        for (RawHttp.Response response; (response = raw.read(head && answers == 0)) != null; ) {
            answers++;
            count(response.status());
            if (response.status() == RawHttp.NO_STATUS_LINE) {
                // Tomcat answers a request line it cannot read as HTTP/1.x the HTTP/0.9 way: the bare body.
                JsonNode body = Answers.JSON.readTree(response.body());
                int status = body.path("status").asInt(200);
                Answers.check(current, status, status == 200 ? "application/json" : "application/problem+json",
                        response.body(), false, false);
                continue;
            }
            Answers.check(current, response.status(), response.contentType(), response.body(), head && answers == 1,
                    false);
        }
        if (answers == 0 && answerRequired) {
            throw new AssertionError("the server closed the connection without an answer");
        }
        return answers;
    }

    // ---------------------------------------------------------------- raw-socket cases

    private void rawCase(FuzzInputs in, Random r) throws IOException {
        String task = in.pick(POOL);
        String writePath = "/tasks/" + task + "/memory/0x" + Long.toHexString(MIN + r.nextInt(1 << 19));
        String controlPath = "/tasks/" + task + "/" + in.pick(FuzzInputs.OPS);
        byte[] json = in.jsonBody("allocate");
        byte[] bytes = in.bytes(r.nextInt(r.nextInt(10) == 0 ? 200_000 : 20_000));
        int kind = r.nextInt(12);
        String path = kind % 2 == 0 ? writePath : controlPath;
        byte[] body = kind % 2 == 0 ? bytes : json;
        String type = kind % 2 == 0 ? "application/octet-stream" : "application/json";
        String method = kind % 2 == 0 ? "PUT" : "POST";
        byte[] request;
        boolean answerRequired = true;
        switch (kind) {
            case 0, 1 -> { // a well-formed chunked body
                current = "raw chunked " + method + " " + path;
                request = RawHttp.concat(RawHttp.head(method, path, "Content-Type: " + type
                        + "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"),
                        RawHttp.chunked(body, r.nextInt(5000) + 1));
            }
            case 2, 3 -> { // a broken chunked body
                String broken = in.pick("zz\r\n{}\r\n0\r\n\r\n", "5\r\nab", "-1\r\nab\r\n0\r\n\r\n",
                        "ffffffffffffffff\r\nab\r\n", "5;ext=1\r\nabcde\r\n0\r\n\r\n", "5\r\nabcdeXX0\r\n\r\n",
                        "0\r\nTrailer: x\r\n\r\n", "5\r\nabcde\r\n", "\r\n\r\n", "5\r\nabc\r\n0\r\n\r\n",
                        "1" + "0".repeat(100) + "\r\n", "5 \r\nabcde\r\n0\r\n\r\n");
                current = "raw broken chunked " + method + " " + path + ": " + Answers.show(broken);
                request = RawHttp.concat(RawHttp.head(method, path, "Content-Type: " + type
                        + "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"),
                        broken.getBytes(StandardCharsets.ISO_8859_1));
            }
            case 4, 5 -> { // Content-Length larger or smaller than the body
                boolean larger = r.nextBoolean();
                int declared = larger ? body.length + 1 + r.nextInt(100_000) : r.nextInt(body.length + 1);
                current = "raw " + method + " " + path + " Content-Length " + declared + " with " + body.length
                        + " bytes";
                request = RawHttp.concat(RawHttp.head(method, path, "Content-Type: " + type + "\r\nContent-Length: "
                        + declared + "\r\n"), body);
            }
            case 6 -> { // Content-Length and Transfer-Encoding disagreeing or odd
                String headers = in.pick("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                        "Transfer-Encoding: gzip\r\n", "Transfer-Encoding: chunked, chunked\r\n",
                        "Transfer-Encoding: identity\r\nContent-Length: 2\r\n", "Transfer-Encoding: Chunked\r\n",
                        "Content-Length: abc\r\n", "Content-Length: -1\r\n", "Content-Length: 1 2\r\n",
                        "Content-Length: 2\r\nContent-Length: 3\r\n", "Content-Length: +2\r\n",
                        "Content-Length: 99999999999999999999999\r\n", "Content-Length: 0x2\r\n");
                current = "raw " + method + " " + path + " " + Answers.show(headers);
                request = RawHttp.concat(RawHttp.head(method, path, "Content-Type: " + type + "\r\n" + headers
                        + "Connection: close\r\n"), "{}\r\n0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            }
            case 7 -> { // odd request lines
                String line = in.pick(ODD_REQUEST_LINES);
                current = "raw request line " + Answers.show(line);
                request = line.getBytes(StandardCharsets.UTF_8);
            }
            case 8 -> { // odd headers
                String headers = in.pick(ODD_HEADERS);
                current = "raw headers " + Answers.show(headers);
                String head = method + " " + path + " HTTP/1.1\r\n" + (headers.startsWith("Host") ? "" : "Host: x\r\n")
                        + headers + "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n";
                request = RawHttp.concat(head.getBytes(StandardCharsets.ISO_8859_1), body);
            }
            case 9 -> { // a body cut off by a reset
                current = "raw " + method + " " + path + " reset after part of the body";
                try (RawHttp raw = new RawHttp(port)) {
                    raw.send(RawHttp.concat(RawHttp.head(method, path, "Content-Type: " + type + "\r\nContent-Length: "
                            + (body.length + 1000) + "\r\n"), java.util.Arrays.copyOf(body, body.length / 2)));
                    raw.reset();
                }
                return;
            }
            case 10 -> { // pipelined requests
                ByteArrayOutputStream all = new ByteArrayOutputStream();
                int n = r.nextInt(3) + 2;
                List<String> shown = new ArrayList<>();
                for (int k = 0; k < n; k++) {
                    FuzzInputs.Request g = in.next();
                    String m = g.method().equals("HEAD") ? "GET" : g.method();
                    StringBuilder h = new StringBuilder();
                    for (int j = 0; j + 1 < g.headers().size(); j += 2) {
                        h.append(g.headers().get(j)).append(": ").append(g.headers().get(j + 1)).append("\r\n");
                    }
                    byte[] b = g.body() == null ? new byte[0] : g.body();
                    h.append("Content-Length: ").append(b.length).append("\r\n");
                    all.writeBytes(RawHttp.concat((m + " " + g.path() + " HTTP/1.1\r\nHost: x\r\n" + h + "\r\n")
                            .getBytes(StandardCharsets.UTF_8), b));
                    shown.add(m + " " + Answers.show(g.path()));
                }
                current = "raw pipeline " + shown;
                request = all.toByteArray();
            }
            default -> { // a generated request with raw (unencoded) bytes in its path
                FuzzInputs.Request g = in.next();
                String raw = g.path().replace("%", "") + in.unicode();
                current = "raw path " + Answers.show(raw);
                request = ("GET " + raw + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.UTF_8);
                answerRequired = false;
            }
        }
        try (RawHttp raw = new RawHttp(port)) {
            try {
                raw.send(request).shutdownOutput();
            } catch (java.net.SocketException closedEarly) {
                // the server refused the head and closed before the body was sent: read what it said
            }
            readAll(raw, false, answerRequired && kind != 7 && kind != 8);
        }
    }
}
