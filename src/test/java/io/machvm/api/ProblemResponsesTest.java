package io.machvm.api;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.allOf;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.matchesPattern;
import static org.hamcrest.Matchers.not;

import io.machvm.vm.KernReturn;
import io.restassured.config.EncoderConfig;
import io.restassured.config.RestAssuredConfig;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every row of the problem table, and every way a request can be refused before a Mach call. */
class ProblemResponsesTest extends ApiTestSupport {

    @Test
    void kernInvalidAddressIs404() {
        String task = newTask();
        assertProblem(read(task, MIN, 1), 404, KernReturn.KERN_INVALID_ADDRESS,
                "/tasks/" + task + "/memory/0x100000000").body("detail", containsString("0x100000000"));
        terminate(task);
    }

    @Test
    void kernProtectionFailureIs403() {
        String task = newTask();
        allocate(task, MIN, 0x8000);
        protect(task, MIN, 0x4000, false, "r--");
        assertProblem(call(task, "copy", "{\"sourceAddress\":\"0x100004000\",\"size\":\"0x4000\","
                + "\"destAddress\":\"0x100000000\"}").extract().response(), 403, KernReturn.KERN_PROTECTION_FAILURE,
                "/tasks/" + task + "/copy").body("detail", containsString("not writable"));
        terminate(task);
    }

    @Test
    void kernNoSpaceIs409() {
        String task = newTask();
        allocate(task, MIN, 0x4000);
        assertProblem(call(task, "allocate", "{\"address\":\"0x100000000\",\"size\":\"0x4000\"}").extract()
                .response(), 409, KernReturn.KERN_NO_SPACE, "/tasks/" + task + "/allocate");
        // OVERWRITE replaces
        call(task, "allocate", "{\"address\":\"0x100000000\",\"size\":\"0x4000\",\"flags\":\"0x4000\"}")
                .statusCode(201);
        terminate(task);
    }

    @Test
    void kernInvalidArgumentIs400() {
        String task = newTask();
        assertProblem(call(task, "allocate", "{\"address\":\"0x100000000\",\"size\":\"0x4000\",\"flags\":\"0x8001\"}")
                .extract().response(), 400, KernReturn.KERN_INVALID_ARGUMENT, null)
                .body("detail", containsString("0xff07509f"));
        terminate(task);
    }

    @Test
    void kernFailureIs500WithAGenericDetail() {
        Response r = given().when().get("/test-only/unexpected");
        assertProblem(r, 500, KernReturn.KERN_FAILURE, "/test-only/unexpected")
                .body("detail", allOf(not(containsString("secret")), not(containsString("Exception")),
                        not(containsString("io.machvm")), containsString("incident")));
        assertThat(r.asString()).doesNotContain("at io.", "java.lang", "secret");
    }

    @Test
    void kernResourceShortageIs507AndChangesNothing() {
        String task = newTask();
        int chunk = 1 << 20;
        allocate(task, MIN, CAPACITY + 16L * chunk);
        byte[] data = pattern(chunk, 5);
        Http.Result failed = null;
        long at = MIN;
        Http http = new Http(port);
        for (int i = 0; i < 200 && failed == null; i++, at += chunk) {
            Http.Result r = http.send("PUT", "/tasks/" + task + "/memory/" + hex(at), "application/octet-stream", data);
            if (r.status() != 204) {
                failed = r;
            }
        }
        assertThat(failed).as("the page store of %d bytes never filled up", CAPACITY).isNotNull();
        assertThat(failed.problem(507, KernReturn.KERN_RESOURCE_SHORTAGE)).isNotEmpty();
        assertThat(failed.json().get("instance").asString()).isEqualTo("/tasks/" + task + "/memory/" + hex(at - chunk));
        assertThat(readBytes(task, at - chunk, 16)).containsOnly(0); // the failed write changed nothing
        assertThat(readBytes(task, at - 2L * chunk, 16)).isEqualTo(java.util.Arrays.copyOf(data, 16));
        given().when().get("/tasks/" + task).then().body("residentBytes", equalTo(hex(at - chunk - MIN)));
        terminate(task);
    }

    @Test
    void machSendInvalidDestIs404() {
        assertProblem(call("no-such-task", "allocate", "{\"size\":1,\"anywhere\":true}").extract().response(), 404,
                KernReturn.MACH_SEND_INVALID_DEST, "/tasks/no-such-task/allocate")
                .body("detail", containsString("no-such-task"));
        String task = newTask();
        allocate(task, MIN, 0x4000);
        assertProblem(call(task, "read-overwrite", "{\"address\":\"0x100000000\",\"size\":1,\"destTask\":\"gone\","
                + "\"destAddress\":\"0x100000000\"}").extract().response(), 404, KernReturn.MACH_SEND_INVALID_DEST,
                null);
        terminate(task);
    }

    @Test
    void kernNameExistsIs409() {
        String task = newTask("arm64", null);
        assertProblem(given().contentType(ContentType.JSON).body("{\"flavor\":\"x86_64\"}").put("/tasks/" + task),
                409, KernReturn.KERN_NAME_EXISTS, "/tasks/" + task);
        terminate(task);
    }

    @Test
    void unknownPathIs404WithKernInvalidArgument() {
        assertProblem(given().when().get("/nope"), 404, KernReturn.KERN_INVALID_ARGUMENT, "/nope");
        assertProblem(given().when().post("/tasks/x/unknown-call"), 404, KernReturn.KERN_INVALID_ARGUMENT,
                "/tasks/x/unknown-call");
        assertProblem(given().when().get("/tasks/"), 404, KernReturn.KERN_INVALID_ARGUMENT, "/tasks/");
        assertProblem(given().when().get("/error"), 404, KernReturn.KERN_INVALID_ARGUMENT, "/error");
        assertProblem(given().when().post("/error"), 404, KernReturn.KERN_INVALID_ARGUMENT, "/error");
        assertProblem(given().accept(ContentType.HTML).when().get("/nope"), 404, KernReturn.KERN_INVALID_ARGUMENT,
                "/nope");
    }

    @Test
    void wrongMethodIs405WithAllow() {
        Response r = given().when().delete("/host/page-size");
        assertProblem(r, 405, KernReturn.KERN_INVALID_ARGUMENT, "/host/page-size");
        assertThat(r.header("Allow")).contains("GET");
        assertProblem(given().when().get("/tasks/x/allocate"), 405, KernReturn.KERN_INVALID_ARGUMENT,
                "/tasks/x/allocate");
        assertProblem(given().when().post("/tasks/x/memory/0x1"), 405, KernReturn.KERN_INVALID_ARGUMENT, null);
    }

    @Test
    void wrongMediaTypeIs415() {
        String task = newTask();
        assertProblem(given().contentType(ContentType.TEXT).body("{\"size\":1}").when()
                .post("/tasks/" + task + "/allocate"), 415, KernReturn.KERN_INVALID_ARGUMENT, null);
        assertProblem(given().contentType(ContentType.URLENC).body("a=b").when().post("/tasks"), 415,
                KernReturn.KERN_INVALID_ARGUMENT, "/tasks");
        assertProblem(given().contentType("text/plain").body("abc").when()
                .put("/tasks/" + task + "/memory/0x100000000"), 415, KernReturn.KERN_INVALID_ARGUMENT, null);
        assertProblem(given().config(RestAssuredConfig.config().encoderConfig(EncoderConfig.encoderConfig()
                        .encodeContentTypeAs("application/x-www-form-urlencoded", ContentType.TEXT)))
                .contentType("application/x-www-form-urlencoded").body("a=b").when()
                .put("/tasks/" + task + "/memory/0x100000000"), 415, KernReturn.KERN_INVALID_ARGUMENT, null);
        assertProblem(given().contentType("multipart/form-data; boundary=xyz")
                .body("--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--xyz--\r\n"
                        .getBytes(StandardCharsets.US_ASCII)).when()
                .put("/tasks/" + task + "/memory/0x100000000"), 415, KernReturn.KERN_INVALID_ARGUMENT, null);
        // application/*+json and charset parameters are JSON
        given().contentType("application/vnd.machvm+json; charset=utf-8").body("{\"size\":1,\"anywhere\":true}")
                .when().post("/tasks/" + task + "/allocate").then().statusCode(201);
        terminate(task);
    }

    @Test
    void notAcceptableIs406() {
        String task = newTask();
        allocate(task, MIN, 0x4000);
        assertProblem(given().header("Accept", "image/png").when().get("/tasks/" + task + "/memory/0x100000000?size=1"),
                406, KernReturn.KERN_INVALID_ARGUMENT, null);
        assertProblem(given().header("Accept", "text/csv").when().get("/host/page-size"), 406,
                KernReturn.KERN_INVALID_ARGUMENT, "/host/page-size");
        terminate(task);
    }

    @Test
    void bodiesOverTheLimitAre413() throws IOException {
        String task = newTask();
        // JSON of a control call: 64 KiB at most, with or without Content-Length
        String big = "{\"size\":1,\"anywhere\":true,\"pad\":\"" + "x".repeat(70_000) + "\"}";
        assertProblem(given().contentType(ContentType.JSON).body(big).when().post("/tasks/" + task + "/allocate"),
                413, KernReturn.KERN_INVALID_ARGUMENT, "/tasks/" + task + "/allocate");
        assertThat(rawRequest("POST /tasks/" + task + "/allocate", "Content-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n", chunked(big.getBytes(StandardCharsets.US_ASCII))))
                .startsWith("HTTP/1.1 413").contains("application/problem+json").contains("KERN_INVALID_ARGUMENT");
        // vm_write: Content-Length over machvm.api.max-transfer is refused before the body is read
        allocate(task, MIN, MAX_TRANSFER + 0x4000);
        String response = rawRequest("PUT /tasks/" + task + "/memory/0x100000000",
                "Content-Type: application/octet-stream\r\nContent-Length: " + (MAX_TRANSFER + 1) + "\r\n",
                new byte[0]);
        assertThat(response).startsWith("HTTP/1.1 413").contains("application/problem+json")
                .contains("\"kern\":\"KERN_INVALID_ARGUMENT\"").contains("exceeds the limit");
        // ... but the Mach checks come first (SEMANTICS.md): an unmapped destination is a 404
        assertThat(rawRequest("PUT /tasks/" + task + "/memory/0x900000000",
                "Content-Type: application/octet-stream\r\nContent-Length: " + (MAX_TRANSFER + 1) + "\r\n",
                new byte[0])).startsWith("HTTP/1.1 404").contains("KERN_INVALID_ADDRESS");
        // vm_write as JSON
        assertThat(rawRequest("PUT /tasks/" + task + "/memory/0x100000000",
                "Content-Type: application/json\r\nContent-Length: " + (MAX_TRANSFER * 2) + "\r\n", new byte[0]))
                .startsWith("HTTP/1.1 413").contains("KERN_INVALID_ARGUMENT");
        // vm_read over the limit (and within vm_read's 32-bit limit)
        assertProblem(read(task, MIN, MAX_TRANSFER + 1), 413, KernReturn.KERN_INVALID_ARGUMENT, null)
                .body("detail", containsString("exceeds the limit"));
        given().when().get("/tasks/" + task).then().body("residentBytes", equalTo("0x0"));
        terminate(task);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "malformed JSON           | {\"size\":                       | not valid JSON",
        "not an object            | [1,2]                            | must be a JSON object",
        "a string body            | `\"x\"`                          | must be a JSON object",
        "trailing content         | {\"size\":1,\"anywhere\":true} x | not valid JSON",
        "second object            | {\"size\":1,\"anywhere\":true} {} | unexpected content",
        "duplicate field          | {\"size\":1,\"size\":2}          | size",
        "size missing             | {\"anywhere\":true}              | size is required",
        "size wrong type          | {\"size\":true,\"anywhere\":true} | size must be",
        "size float               | {\"size\":1.5,\"anywhere\":true} | size must be",
        "size exponent            | {\"size\":1e3,\"anywhere\":true} | size must be",
        "anywhere wrong type      | {\"size\":1,\"anywhere\":\"yes\"} | anywhere must be a JSON boolean",
        "flags wrong type         | {\"size\":1,\"flags\":[1]}        | flags must be",
        "flags too large          | {\"size\":1,\"flags\":\"0x100000000\"} | flags must be an unsigned 32-bit",
        "address object           | {\"size\":1,\"address\":{}}      | address must be",
        "null body                | null                             | must be a JSON object",
        "empty body               | ''                               | body is required",
        "deep nesting             | {\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]} | not valid JSON",
    })
    void badRequestBodiesAre400NamingTheProblem(String name, String body, String detail) {
        Http http = new Http(port);
        String task = "bad-body-" + System.nanoTime();
        http.send("PUT", "/tasks/" + task, null, null).expect(201);
        Http.Result r = http.json("POST", "/tasks/" + task + "/allocate", body.equals("''") ? "" : body);
        assertThat(r.problem(400, KernReturn.KERN_INVALID_ARGUMENT)).contains(detail);
        assertThat(r.json().get("instance").asString()).isEqualTo("/tasks/" + task + "/allocate");
        http.send("DELETE", "/tasks/" + task, null, null).expect(204);
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', value = {
        "deallocate     | {\"size\":1}                                   | address is required",
        "deallocate     | {\"address\":1}                                | size is required",
        "protect        | {\"address\":1,\"size\":1}                     | protection is required",
        "protect        | {\"address\":1,\"size\":1,\"protection\":\"rw\"} | protection must be",
        "protect        | {\"address\":1,\"size\":1,\"protection\":\"rwx-\"} | protection must be",
        "protect        | {\"address\":1,\"size\":1,\"protection\":\"RW-\"} | protection must be",
        "protect        | {\"address\":1,\"size\":1,\"protection\":true}  | protection must be",
        "protect        | {\"address\":1,\"size\":1,\"protection\":-1}    | protection must not be negative",
        "protect        | {\"address\":1,\"size\":1,\"protection\":1.0}   | protection must be",
        "protect        | {\"address\":1,\"size\":1,\"protection\":\"0x100000000\"} | protection must be an unsigned 32-bit",
        "protect        | {\"address\":1,\"size\":1,\"protection\":\"r--\",\"setMaximum\":1} | setMaximum must be a JSON boolean",
        "inherit        | {\"address\":1,\"size\":1}                     | inheritance is required",
        "inherit        | {\"address\":1,\"size\":1,\"inheritance\":\"copyy\"} | inheritance must be",
        "inherit        | {\"address\":1,\"size\":1,\"inheritance\":[0]}   | inheritance must be",
        "copy           | {\"size\":1,\"destAddress\":1}                 | sourceAddress is required",
        "copy           | {\"sourceAddress\":1,\"size\":1}               | destAddress is required",
        "copy           | {\"sourceAddress\":\"0x\",\"size\":1,\"destAddress\":1} | sourceAddress must be",
        "read-overwrite | {\"address\":1,\"size\":1}                     | destAddress is required",
        "read-overwrite | {\"address\":1,\"size\":1,\"destAddress\":1,\"destTask\":5} | destTask must be a JSON string",
    })
    void missingAndMistypedFieldsAre400NamingTheField(String op, String body, String detail) {
        Http http = new Http(port);
        String task = "bad-field-" + System.nanoTime();
        http.send("PUT", "/tasks/" + task, null, null).expect(201);
        Http.Result r = http.json("POST", "/tasks/" + task + "/" + op, body);
        assertThat(r.problem(400, KernReturn.KERN_INVALID_ARGUMENT)).contains(detail);
        assertThat(r.json().get("instance").asString()).isEqualTo("/tasks/" + task + "/" + op);
        http.send("DELETE", "/tasks/" + task, null, null).expect(204);
    }

    @Test
    void taskSettingsAreChecked() {
        assertProblem(given().contentType(ContentType.JSON).body("{\"flavor\":\"sparc\"}").when().post("/tasks"), 400,
                KernReturn.KERN_INVALID_ARGUMENT, "/tasks").body("detail", containsString("flavor"));
        assertProblem(given().contentType(ContentType.JSON).body("{\"errors\":\"strict\"}").when().post("/tasks"),
                400, KernReturn.KERN_INVALID_ARGUMENT, "/tasks").body("detail", containsString("errors"));
        assertProblem(given().contentType(ContentType.JSON).body("{\"name\":1}").when().post("/tasks"), 400,
                KernReturn.KERN_INVALID_ARGUMENT, "/tasks").body("detail", containsString("name"));
        assertProblem(given().contentType(ContentType.JSON).body("{\"name\":\"" + "n".repeat(257) + "\"}").when()
                .post("/tasks"), 400, KernReturn.KERN_INVALID_ARGUMENT, "/tasks").body("detail",
                containsString("name"));
    }

    @Test
    void jsonWriteBodiesAreChecked() {
        String task = newTask();
        allocate(task, MIN, 0x4000);
        String path = "/tasks/" + task + "/memory/0x100000000";
        assertProblem(given().contentType(ContentType.JSON).body("{}").when().put(path), 400,
                KernReturn.KERN_INVALID_ARGUMENT, path).body("detail", equalTo("data is required"));
        assertProblem(given().contentType(ContentType.JSON).body("{\"data\":\"%%%\"}").when().put(path), 400,
                KernReturn.KERN_INVALID_ARGUMENT, path).body("detail", containsString("data"));
        assertProblem(given().contentType(ContentType.JSON).body("{\"data\":5}").when().put(path), 400,
                KernReturn.KERN_INVALID_ARGUMENT, path).body("detail", containsString("data must be"));
        assertProblem(given().contentType(ContentType.JSON).body("{\"data\":\"AAAA\",\"data\":\"AAAA\"}").when()
                .put(path), 400, KernReturn.KERN_INVALID_ARGUMENT, path);
        assertThat(readBytes(task, MIN, 4)).containsOnly(0);
        terminate(task);
    }

    @Test
    void requestsTomcatRefusesAreProblemsToo() throws IOException {
        for (String target : new String[] {"/tasks/%zz", "/tasks/a%2Fb", "/tasks/a b"}) {
            String response = rawRequest("GET " + target, "", new byte[0]);
            assertThat(response).startsWith("HTTP/1.1 400").contains("Content-Type: application/problem+json")
                    .contains("\"kern\":\"KERN_INVALID_ARGUMENT\"").doesNotContain("<html");
        }
    }
}
