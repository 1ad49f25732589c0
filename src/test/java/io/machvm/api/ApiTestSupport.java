package io.machvm.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.emptyOrNullString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.startsWith;

import io.machvm.vm.KernReturn;
import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import io.restassured.response.ValidatableResponse;
import io.swagger.v3.oas.annotations.Hidden;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestComponent;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * The running service on a random port, shared (one Spring context) by the API tests, with REST Assured pointed at it
 * and helpers for tasks, memory and problem assertions. The page store is small (128 MB) so that exhausting it is
 * cheap, and the transfer limit is 64 MB so that the 413 paths are reachable without gigabyte bodies.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"machvm.store.capacity=128MB", "machvm.store.slab-size=16MB", "machvm.api.max-transfer=64MB"})
@Import(ApiTestSupport.FailingController.class)
abstract class ApiTestSupport {
    static final long MAX_TRANSFER = 64L << 20;
    static final long CAPACITY = 128L << 20;
    static final long MIN = 0x1_0000_0000L;
    private static final AtomicInteger TASKS = new AtomicInteger();

    @LocalServerPort
    int port;

    @BeforeEach
    void pointRestAssuredAtServer() {
        RestAssured.port = port;
    }

    /** A fresh task with a chosen id; flavor and errors may be null for the defaults. */
    static String newTask(String flavor, String errors) {
        String id = "api-" + TASKS.incrementAndGet() + "-" + Long.toHexString(System.nanoTime() & 0xffffff);
        StringBuilder body = new StringBuilder("{");
        if (flavor != null) {
            body.append("\"flavor\":\"").append(flavor).append('"');
        }
        if (errors != null) {
            body.append(body.length() > 1 ? "," : "").append("\"errors\":\"").append(errors).append('"');
        }
        body.append('}');
        given().contentType(ContentType.JSON).body(body.toString())
                .when().put("/tasks/" + id).then().statusCode(201);
        return id;
    }

    static String newTask() {
        return newTask(null, null);
    }

    static void terminate(String task) {
        given().when().delete("/tasks/" + task).then().statusCode(204);
    }

    static ValidatableResponse call(String task, String op, String json) {
        return given().contentType(ContentType.JSON).body(json).when().post("/tasks/" + task + "/" + op).then();
    }

    static void allocate(String task, long address, long size) {
        call(task, "allocate", "{\"address\":\"" + hex(address) + "\",\"size\":\"" + hex(size) + "\"}")
                .statusCode(201);
    }

    static void protect(String task, long address, long size, boolean setMaximum, String protection) {
        call(task, "protect", "{\"address\":\"" + hex(address) + "\",\"size\":\"" + hex(size) + "\",\"setMaximum\":"
                + setMaximum + ",\"protection\":\"" + protection + "\"}").statusCode(204);
    }

    static Response write(String task, long address, byte[] data) {
        return given().contentType(ContentType.BINARY).body(data).when()
                .put("/tasks/" + task + "/memory/" + hex(address));
    }

    static Response read(String task, long address, long size) {
        return given().accept(ContentType.BINARY).when()
                .get("/tasks/" + task + "/memory/" + hex(address) + "?size=" + hex(size));
    }

    static byte[] readBytes(String task, long address, int size) {
        return read(task, address, size).then().statusCode(200).contentType("application/octet-stream")
                .extract().asByteArray();
    }

    static String hex(long value) {
        return io.machvm.TestBytes.hex(value);
    }

    /** Asserts a complete problem response and returns it for further checks. */
    static ValidatableResponse assertProblem(Response response, int status, KernReturn kern, String instance) {
        ValidatableResponse v = response.then().statusCode(status)
                .contentType("application/problem+json")
                .body("type", equalTo("/problems/" + kern.name()))
                .body("title", not(emptyOrNullString()))
                .body("status", equalTo(status))
                .body("detail", not(emptyOrNullString()))
                .body("kern", equalTo(kern.name()))
                .body("kernReturn", equalTo(kern.value()));
        if (instance != null) {
            v.body("instance", equalTo(instance));
        } else {
            v.body("instance", startsWith("/"));
        }
        return v;
    }

    static byte[] pattern(int size, int seed) {
        return io.machvm.TestBytes.pattern(size, seed);
    }

    /** Sends one raw HTTP/1.1 request and returns the whole response (the connection is closed after it). */
    String rawRequest(String requestLine, String headers, byte[] body) throws IOException {
        try (Socket socket = new Socket("localhost", port)) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write((requestLine + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + headers + "\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.write(body);
            out.flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream response = new ByteArrayOutputStream();
            byte[] buffer = new byte[8192];
            try {
                for (int n; (n = in.read(buffer)) > 0; ) {
                    response.write(buffer, 0, n);
                    if (response.toString(StandardCharsets.ISO_8859_1).contains("}")) {
                        break; // the problem body is complete; the server may reset rather than close
                    }
                }
            } catch (java.net.SocketException reset) {
                // the server closed without reading the announced body
            }
            return response.toString(StandardCharsets.ISO_8859_1);
        }
    }

    static byte[] chunked(byte[] body) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < body.length; i += 4096) {
            int n = Math.min(4096, body.length - i);
            out.writeBytes((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body, i, n);
            out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        out.writeBytes("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        return out.toByteArray();
    }

    /** A test-only endpoint that fails unexpectedly, for the 500 path; hidden from the OpenAPI document. */
    @TestComponent
    @Hidden
    @RestController
    static class FailingController {
        @GetMapping("/test-only/unexpected")
        String unexpected() {
            throw new IllegalStateException("secret internals of io.machvm.Something at /etc/passwd");
        }
    }
}
