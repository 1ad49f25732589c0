package io.machvm.api;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * Streaming bodies: a client that breaks off mid-body leaves the task as it was and releases the pages the body had
 * filled; a client that stops reading a large vm_read releases the snapshot.
 */
class StreamingTest extends ApiTestSupport {

    @ParameterizedTest(name = "{0} bytes announced, {1} sent, reset={2}")
    @CsvSource({"1048576, 524288, false", "1048576, 524288, true", "40000, 20000, false", "4194305, 3000000, true"})
    void aClientThatAbortsMidBodyLeavesTheRangeUnchanged(int announced, int sent, boolean reset) throws Exception {
        String task = newTask();
        allocate(task, MIN, 0x500000);
        byte[] before = pattern(announced, 21);
        write(task, MIN + 1, before).then().statusCode(204);
        long resident = residentPages();
        double writes = vmWriteCalls();

        try (Socket socket = new Socket("localhost", port)) {
            OutputStream out = socket.getOutputStream();
            out.write(("PUT /tasks/" + task + "/memory/0x100000001 HTTP/1.1\r\nHost: localhost\r\n"
                    + "Content-Type: application/octet-stream\r\nContent-Length: " + announced + "\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            byte[] other = pattern(sent, 22);
            out.write(other);
            out.flush();
            if (reset) {
                socket.setSoLinger(true, 0); // RST instead of FIN
            }
        }
        awaitVmWriteCalls(writes + 1);

        assertThat(readBytes(task, MIN + 1, announced)).isEqualTo(before);
        assertThat(residentPages()).isEqualTo(resident);
        terminate(task);
    }

    @Test
    void aJsonClientThatAbortsMidBodyLeavesTheRangeUnchanged() throws Exception {
        String task = newTask();
        int size = 3 << 20;
        allocate(task, MIN, size + 0x4000);
        byte[] before = pattern(size, 31);
        write(task, MIN, before).then().statusCode(204);
        long resident = residentPages();
        byte[] body = ("{\"data\":\"" + Base64.getEncoder().encodeToString(pattern(size, 32)) + "\"}")
                .getBytes(StandardCharsets.US_ASCII);
        try (Socket socket = new Socket("localhost", port)) {
            OutputStream out = socket.getOutputStream();
            out.write(("PUT /tasks/" + task + "/memory/0x100000000 HTTP/1.1\r\nHost: localhost\r\n"
                    + "Content-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.write(body, 0, body.length * 2 / 3);
            out.flush();
            socket.setSoLinger(true, 0);
        }
        Thread.sleep(500); // the JSON form is decoded whole before the call: a body cut short never reaches it
        assertThat(readBytes(task, MIN, size)).isEqualTo(before);
        assertThat(residentPages()).isEqualTo(resident);
        terminate(task);
    }

    @Test
    void chunkedBodiesStreamToo() throws Exception {
        String task = newTask();
        allocate(task, MIN, 0x400000);
        byte[] data = pattern(3 << 20, 41);
        assertThat(rawRequest("PUT /tasks/" + task + "/memory/0x100000003", "Content-Type: application/octet-stream\r\n"
                + "Transfer-Encoding: chunked\r\n", chunked(data))).startsWith("HTTP/1.1 204");
        assertThat(readBytes(task, MIN + 3, data.length)).isEqualTo(data);
        byte[] json = ("{\"data\":\"" + Base64.getEncoder().encodeToString(pattern(100_000, 42)) + "\"}")
                .getBytes(StandardCharsets.US_ASCII);
        assertThat(rawRequest("PUT /tasks/" + task + "/memory/0x100000003", "Content-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n", chunked(json))).startsWith("HTTP/1.1 204");
        assertThat(readBytes(task, MIN + 3, 100_000)).isEqualTo(pattern(100_000, 42));
        terminate(task);
    }

    @Test
    void aClientThatStopsReadingReleasesTheSnapshot() throws Exception {
        String task = newTask();
        int size = 8 << 20;
        allocate(task, MIN, size);
        write(task, MIN, pattern(size, 5)).then().statusCode(204);
        long shared = sharedPages();
        try (Socket socket = new Socket("localhost", port)) {
            socket.getOutputStream().write(("GET /tasks/" + task + "/memory/0x100000000?size=" + size
                    + " HTTP/1.1\r\nHost: localhost\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            InputStream in = socket.getInputStream();
            byte[] some = new byte[65536];
            int total = 0;
            while (total < (1 << 20)) {
                total += in.read(some);
            }
            socket.setSoLinger(true, 0);
        }
        // the snapshot's references are dropped once the server notices the client is gone
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (sharedPages() != shared && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(sharedPages()).isEqualTo(shared);
        // the task is unaffected
        assertThat(Arrays.copyOf(readBytes(task, MIN, 64), 64)).isEqualTo(Arrays.copyOf(pattern(size, 5), 64));
        terminate(task);
    }

    static long residentPages() {
        return given().when().get("/host/statistics").then().extract().jsonPath().getLong("residentPages");
    }

    static long sharedPages() {
        return given().when().get("/host/statistics").then().extract().jsonPath().getLong("sharedPages");
    }

    /** vm_write calls finished so far, whatever their result (machvm.calls timer counts). */
    static double vmWriteCalls() {
        String scrape = given().when().get("/actuator/prometheus").then().statusCode(200).extract().asString();
        double count = 0;
        for (String line : scrape.split("\n")) {
            if (line.startsWith("machvm_calls_seconds_count{") && line.contains("call=\"vm_write\"")) {
                count += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return count;
    }

    static void awaitVmWriteCalls(double atLeast) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (vmWriteCalls() < atLeast) {
            assertThat(System.nanoTime()).as("the aborted vm_write never finished").isLessThan(deadline);
            Thread.sleep(20);
        }
    }
}
