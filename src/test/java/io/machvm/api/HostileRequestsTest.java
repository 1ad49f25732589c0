package io.machvm.api;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.allOf;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.not;

import io.restassured.http.ContentType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Requests that Tomcat or the framework refuse before a controller runs, each answered as a 400
 * {@code KERN_INVALID_ARGUMENT} problem that says why (the random fuzzer in {@code io.machvm.reliability} meets them
 * by chance; these are the cases, one each).
 */
class HostileRequestsTest extends ApiTestSupport {

    /** Sends the bytes as they are and reads until the server closes the connection. */
    private String send(String request) throws IOException {
        try (Socket socket = new Socket("localhost", port)) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            socket.shutdownOutput();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream response = new ByteArrayOutputStream();
            in.transferTo(response);
            return response.toString(StandardCharsets.UTF_8);
        }
    }

    private static void assertProblem400(String response, String detail) {
        assertThat(response).startsWith("HTTP/1.1 400 ")
                .contains("Content-Type: application/problem+json")
                .contains("\"kern\":\"KERN_INVALID_ARGUMENT\"")
                .contains("\"detail\":\"" + detail);
    }

    @Test
    void anHttpVersionOtherThanOneIsA400NotTomcats505() throws IOException {
        assertProblem400(send("GET /host/page-size HTTP/2.0\r\nHost: localhost\r\n\r\n"),
                "HTTP version not supported: send HTTP/1.1");
    }

    @Test
    void anUnknownTransferCodingIsA400NotTomcats501() throws IOException {
        assertProblem400(send("POST /tasks HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n"
                + "Content-Type: application/json\r\n\r\n"),
                "the request uses a method or transfer coding the service does not support");
    }

    @Test
    void aRequestTargetTomcatCannotParseSaysWhy() throws IOException {
        assertProblem400(send("GET /tasks/{x} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
                "the request could not be parsed: Invalid character found in the request target");
    }

    @Test
    void aMethodTomcatCannotParseSaysWhyWithoutEchoingIt() throws IOException {
        String answer = send("HtX.Q\u00ff / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        assertProblem400(answer, "the request could not be parsed: Invalid character found in method name. HTTP "
                + "method names must be tokens");
        assertThat(answer).doesNotContain("HtX.Q");
    }

    @Test
    void aRequestHeadOverTheLimitSaysWhy() throws IOException {
        assertProblem400(send("GET /tasks HTTP/1.1\r\nHost: localhost\r\nX-Big: " + "x".repeat(20_000)
                + "\r\nConnection: close\r\n\r\n"), "the request could not be parsed: Request header is too large");
    }

    @ParameterizedTest
    @ValueSource(strings = {"/tasks/%2e%2e/regions", "/tasks/./x", "/tasks/..", "/tasks/x/..;a=b/regions",
        "/actuator/%2E%2E/tasks"})
    void aPathWithADotSegmentIsRefused(String path) throws IOException {
        assertProblem400(send("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
                "the request path must not contain dot segments (/./ or /../)");
    }

    @ParameterizedTest
    @ValueSource(strings = {".", ".."})
    void aTaskCannotBeNamedDotOrDotDot(String id) throws IOException {
        // Through a URL such an id never reaches the registry (the path is refused); a fork or restore into it is
        // refused by the registry's id rule (TaskReservationTest).
        assertProblem400(send("PUT /tasks/" + id + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n"
                + "Connection: close\r\n\r\n"), "the request path must not contain dot segments");
        given().when().get("/tasks").then().statusCode(200).body("id", not(org.hamcrest.Matchers.hasItem(id)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"size=%ZZ", "size=1&a=%"})
    void aQueryStringThatCannotBeDecodedIsA400(String query) throws IOException {
        String task = newTask();
        String response = send("GET /tasks/" + task + "/memory/0x100000000?" + query + " HTTP/1.1\r\n"
                + "Host: localhost\r\nConnection: close\r\n\r\n");
        assertProblem400(response, "the query string could not be decoded");
        assertThat(response).contains("\"instance\":\"/tasks/" + task + "/memory/0x100000000\"");
    }

    @Test
    void aChunkedBodyWithABrokenChunkIsAnsweredWithAProblemAndChangesNothing() throws IOException {
        String task = newTask();
        assertProblem400(send("POST /tasks/" + task + "/allocate HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                + "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
                "the request body ended before its announced length or could not be read; nothing was changed");
        given().when().get("/tasks/" + task + "/regions").then().statusCode(200).body("size()", equalTo(0));
    }

    @Test
    void jacksonsLimitsAreReportedWithoutItsInternalNames() {
        String task = newTask();
        String deep = "[".repeat(100) + "]".repeat(100);
        String detail = given().contentType(ContentType.JSON).body("{\"calls\":" + deep + "}").when()
                .post("/tasks/" + task + "/batch")
                .then().statusCode(400).body("kern", equalTo("KERN_INVALID_ARGUMENT"))
                .body("detail", allOf(containsString("nesting depth"), not(containsString("StreamReadConstraints")),
                        not(containsString("Source:")), not(containsString("`"))))
                .extract().path("detail");
        assertThat(detail).startsWith("request body is not valid JSON");
    }

    @Test
    void jacksonMessagesLoseSourcesSettingsAndQualifiedNames() {
        assertThat(JsonBinding.withoutInternals("Document nesting depth (65) exceeds the maximum allowed (64, from "
                + "`StreamReadConstraints.getMaxNestingDepth()`)"))
                .isEqualTo("Document nesting depth (65) exceeds the maximum allowed (64)");
        assertThat(JsonBinding.withoutInternals("Unexpected end-of-input: expected close marker for Object (start "
                + "marker at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, "
                + "column: 1])")).doesNotContain("Source").doesNotContain("StreamReadFeature");
        assertThat(JsonBinding.withoutInternals("Cannot coerce `tools.jackson.core.JsonToken.VALUE_TRUE`"))
                .isEqualTo("Cannot coerce VALUE_TRUE");
    }
}
