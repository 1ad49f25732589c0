package io.machvm.api;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.instanceOf;
import static org.hamcrest.Matchers.matchesPattern;
import static org.hamcrest.Matchers.nullValue;

import io.machvm.vm.KernReturn;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Every endpoint of API.md, its status codes, Location headers and response shapes. */
class HttpEndpointsTest extends ApiTestSupport {

    @Test
    void hostPageSizeIsAPlainInteger() {
        given().when().get("/host/page-size").then().statusCode(200).contentType(ContentType.JSON)
                .body("pageSize", equalTo(16384));
    }

    @Test
    void hostStatisticsHasPageStoreFigures() {
        String task = newTask();
        allocate(task, MIN, 0x8000);
        write(task, MIN, new byte[] {1}).then().statusCode(204);
        Map<String, Object> stats = given().when().get("/host/statistics").then().statusCode(200)
                .body("pageSize", equalTo(16384))
                .body("capacityBytes", equalTo("0x8000000"))
                .body("residentPages", instanceOf(Integer.class))
                .body("sharedPages", instanceOf(Integer.class))
                .body("freePages", instanceOf(Integer.class))
                .body("tasks", instanceOf(Integer.class))
                .extract().jsonPath().getMap("");
        assertThat(stats).containsOnlyKeys("pageSize", "capacityBytes", "residentPages", "sharedPages", "freePages",
                "tasks");
        assertThat((Integer) stats.get("residentPages")).isGreaterThanOrEqualTo(1);
        assertThat((Integer) stats.get("tasks")).isGreaterThanOrEqualTo(1);
        terminate(task);
    }

    @Test
    void postTasksMintsAnIdWithLocationAndDefaults() {
        // REST Assured sends a bodiless POST as a form, which is refused without credentials (a cross-site form)
        Response r = given().contentType(ContentType.JSON).body("{}").when().post("/tasks");
        String id = r.then().statusCode(201).contentType(ContentType.JSON)
                .body("name", nullValue())
                .body("flavor", equalTo("arm64"))
                .body("errors", equalTo("documented"))
                .body("pageSize", equalTo(16384))
                .body("minAddress", equalTo("0x100000000"))
                .body("maxAddress", equalTo("0x7ffffe000000"))
                .body("regionCount", equalTo(0))
                .body("virtualBytes", equalTo("0x0"))
                .body("residentBytes", equalTo("0x0"))
                .extract().path("id");
        assertThat(r.header("Location")).isEqualTo("/tasks/" + id);
        assertThat(r.jsonPath().getMap("")).containsOnlyKeys("id", "name", "flavor", "errors", "pageSize",
                "minAddress", "maxAddress", "regionCount", "virtualBytes", "residentBytes");
        terminate(id);
    }

    @Test
    void postTasksTakesSettings() {
        Response r = given().contentType(ContentType.JSON)
                .body("{\"flavor\":\"x86_64\",\"errors\":\"xnu\",\"name\":\"build-42\",\"unknown\":[1,{\"a\":2}]}")
                .when().post("/tasks");
        String id = r.then().statusCode(201)
                .body("flavor", equalTo("x86_64")).body("errors", equalTo("xnu")).body("name", equalTo("build-42"))
                .body("pageSize", equalTo(4096)).body("maxAddress", equalTo("0x7fffffe00000"))
                .extract().path("id");
        assertThat(r.header("Location")).isEqualTo("/tasks/" + id);
        terminate(id);
    }

    @Test
    void putTaskIsIdempotentAndConflictsOnOtherSettings() {
        String id = "put-task-" + System.nanoTime();
        Response created = given().contentType(ContentType.JSON).body("{\"flavor\":\"x86_64\",\"name\":\"n\"}")
                .when().put("/tasks/" + id);
        created.then().statusCode(201).body("id", equalTo(id)).body("flavor", equalTo("x86_64"));
        assertThat(created.header("Location")).isEqualTo("/tasks/" + id);
        given().contentType(ContentType.JSON).body("{\"flavor\":\"x86_64\",\"name\":\"n\"}")
                .when().put("/tasks/" + id).then().statusCode(200).body("id", equalTo(id));
        given().contentType(ContentType.JSON).body("{\"flavor\":\"x86_64\"}")
                .when().put("/tasks/" + id).then().statusCode(200);
        assertProblem(given().contentType(ContentType.JSON).body("{\"flavor\":\"arm64\"}").when().put("/tasks/" + id),
                409, KernReturn.KERN_NAME_EXISTS, "/tasks/" + id);
        assertProblem(given().when().put("/tasks/" + id), 409, KernReturn.KERN_NAME_EXISTS, "/tasks/" + id);
        terminate(id);
    }

    @Test
    void putTaskRefusesBadIds() {
        String tooLong = "a".repeat(65);
        assertProblem(given().when().put("/tasks/" + tooLong), 400, KernReturn.KERN_INVALID_ARGUMENT,
                "/tasks/" + tooLong);
        assertProblem(given().when().put("/tasks/a*b"), 400, KernReturn.KERN_INVALID_ARGUMENT, "/tasks/a*b");
        String ok = "A.z_0-9." + System.nanoTime();
        given().when().put("/tasks/" + ok).then().statusCode(201);
        terminate(ok);
    }

    @Test
    void listAndInfoDescribeTasks() {
        String task = newTask("x86_64", "xnu");
        allocate(task, MIN, 0x3000);
        write(task, MIN + 0x1000, new byte[] {7}).then().statusCode(204);
        given().when().get("/tasks").then().statusCode(200).body("id", hasItem(task));
        List<Map<String, Object>> all = given().when().get("/tasks").then().extract().jsonPath().getList("");
        List<String> ids = all.stream().map(t -> (String) t.get("id")).toList();
        assertThat(ids).isSorted();
        given().when().get("/tasks/" + task).then().statusCode(200)
                .body("id", equalTo(task)).body("regionCount", equalTo(1))
                .body("virtualBytes", equalTo("0x3000")).body("residentBytes", equalTo("0x1000"));
        terminate(task);
    }

    @Test
    void terminateReleasesTheTaskAndLaterCallsFailAsThroughADeadPort() {
        String task = newTask();
        allocate(task, MIN, 0x4000);
        given().when().delete("/tasks/" + task).then().statusCode(204);
        assertProblem(given().when().delete("/tasks/" + task), 404, KernReturn.MACH_SEND_INVALID_DEST,
                "/tasks/" + task);
        assertProblem(given().when().get("/tasks/" + task), 404, KernReturn.MACH_SEND_INVALID_DEST, null);
        assertProblem(read(task, MIN, 1), 404, KernReturn.MACH_SEND_INVALID_DEST, null);
        assertProblem(write(task, MIN, new byte[1]), 404, KernReturn.MACH_SEND_INVALID_DEST, null);
        assertProblem(given().when().get("/tasks/" + task + "/regions"), 404, KernReturn.MACH_SEND_INVALID_DEST,
                null);
    }

    @Test
    void allocateFixedAnywhereAndZero() {
        String task = newTask();
        Response fixed = given().contentType(ContentType.JSON)
                .body("{\"address\":\"0x200000123\",\"size\":\"0x5000\"}").when().post("/tasks/" + task + "/allocate");
        fixed.then().statusCode(201).body("address", equalTo("0x200000000")).body("size", equalTo("0x8000"));
        assertThat(fixed.header("Location")).isEqualTo("/tasks/" + task + "/regions/0x200000000");
        call(task, "allocate", "{\"size\":16384,\"anywhere\":true}").statusCode(201)
                .body("address", equalTo("0x100000000")).body("size", equalTo("0x4000"));
        call(task, "allocate", "{\"size\":\"1\",\"flags\":\"0x1\",\"address\":\"0xdeadbeef\"}").statusCode(201)
                .body("address", equalTo("0x100004000"));
        Response zero = given().contentType(ContentType.JSON).body("{\"address\":\"0x5\",\"size\":0}")
                .when().post("/tasks/" + task + "/allocate");
        zero.then().statusCode(201).body("address", equalTo("0x0")).body("size", equalTo("0x0"));
        assertThat(zero.header("Location")).isNull();
        terminate(task);
    }

    @Test
    void allocateWithoutAddressNeedsAnywhere() {
        String task = newTask();
        assertProblem(given().contentType(ContentType.JSON).body("{\"size\":16384}")
                .when().post("/tasks/" + task + "/allocate"), 400, KernReturn.KERN_INVALID_ARGUMENT,
                "/tasks/" + task + "/allocate").body("detail", matchesPattern("^address is required.*"));
        assertProblem(given().contentType(ContentType.JSON).body("{\"size\":16384,\"anywhere\":false,\"flags\":1}")
                .when().post("/tasks/" + task + "/allocate"), 400, KernReturn.KERN_INVALID_ARGUMENT, null)
                .body("detail", matchesPattern(".*anywhere.*"));
        assertProblem(given().contentType(ContentType.JSON).body("{\"address\":4294967296}")
                .when().post("/tasks/" + task + "/allocate"), 400, KernReturn.KERN_INVALID_ARGUMENT, null)
                .body("detail", equalTo("size is required"));
        terminate(task);
    }

    @Test
    void deallocateProtectInheritAndRegions() {
        String task = newTask();
        allocate(task, MIN, 0xc000);
        call(task, "protect", "{\"address\":\"0x100000000\",\"size\":\"0x4000\",\"setMaximum\":false,"
                + "\"protection\":\"r--\"}").statusCode(204);
        call(task, "inherit", "{\"address\":\"0x100004000\",\"size\":\"0x4000\",\"inheritance\":\"share\"}")
                .statusCode(204);
        given().when().get("/tasks/" + task + "/regions").then().statusCode(200).body("", hasSize(3))
                .body("[0].address", equalTo("0x100000000")).body("[0].size", equalTo("0x4000"))
                .body("[0].protection", equalTo("r--")).body("[0].maxProtection", equalTo("rwx"))
                .body("[0].inheritance", equalTo("copy")).body("[0].shared", equalTo(false))
                .body("[0].offset", matchesPattern("^0x[0-9a-f]+$"))
                .body("[1].address", equalTo("0x100004000")).body("[1].protection", equalTo("rw-"))
                .body("[1].inheritance", equalTo("share"))
                .body("[2].address", equalTo("0x100008000")).body("[2].inheritance", equalTo("copy"));
        Map<String, Object> region = given().when().get("/tasks/" + task + "/regions/0x100005fff").then()
                .statusCode(200).body("address", equalTo("0x100004000")).body("size", equalTo("0x4000"))
                .extract().jsonPath().getMap("");
        assertThat(region).containsOnlyKeys("address", "size", "protection", "maxProtection", "inheritance",
                "shared", "offset");
        // below the first region: the next one above
        given().when().get("/tasks/" + task + "/regions/0").then().statusCode(200)
                .body("address", equalTo("0x100000000"));
        call(task, "deallocate", "{\"address\":\"0x100000000\",\"size\":\"0x8000\"}").statusCode(204);
        given().when().get("/tasks/" + task + "/regions").then().body("", hasSize(1))
                .body("[0].address", equalTo("0x100008000"));
        assertProblem(given().when().get("/tasks/" + task + "/regions/0x10000c000"), 404,
                KernReturn.KERN_INVALID_ADDRESS, "/tasks/" + task + "/regions/0x10000c000");
        terminate(task);
    }

    @Test
    void writeReadCopyAndReadOverwrite() {
        String task = newTask();
        String other = newTask();
        allocate(task, MIN, 0x10000);
        allocate(other, MIN, 0x10000);
        byte[] data = pattern(5000, 1);
        write(task, MIN + 3, data).then().statusCode(204);
        assertThat(readBytes(task, MIN + 3, data.length)).isEqualTo(data);
        call(task, "copy", "{\"sourceAddress\":\"0x100000003\",\"size\":5000,\"destAddress\":\"0x100008001\"}")
                .statusCode(204);
        assertThat(readBytes(task, MIN + 0x8001, data.length)).isEqualTo(data);
        call(task, "read-overwrite", "{\"address\":\"0x100000003\",\"size\":\"5000\",\"destTask\":\"" + other
                + "\",\"destAddress\":\"0x100000010\"}").statusCode(200).contentType(ContentType.JSON)
                .body("outsize", equalTo("0x1388"));
        assertThat(readBytes(other, MIN + 0x10, data.length)).isEqualTo(data);
        call(task, "read-overwrite", "{\"address\":\"0x100000003\",\"size\":\"0x10\",\"destAddress\":\"0x10000c000\"}")
                .statusCode(200).body("outsize", equalTo("0x10"));
        assertThat(readBytes(task, MIN + 0xc000, 16)).isEqualTo(java.util.Arrays.copyOf(data, 16));
        terminate(task);
        terminate(other);
    }

    @Test
    void jsonFallbackForWriteAndRead() {
        String task = newTask();
        allocate(task, MIN, 0x4000);
        byte[] data = "hello, mach".getBytes();
        given().contentType(ContentType.JSON).body("{\"data\":\"" + Base64.getEncoder().encodeToString(data) + "\"}")
                .when().put("/tasks/" + task + "/memory/0x100000002").then().statusCode(204);
        Response r = given().accept(ContentType.JSON).when().get("/tasks/" + task + "/memory/0x100000000?size=13");
        r.then().statusCode(200).contentType(ContentType.JSON)
                .body("address", equalTo("0x100000000")).body("size", equalTo("0xd"));
        byte[] back = Base64.getDecoder().decode(r.jsonPath().getString("data"));
        assertThat(back).hasSize(13);
        assertThat(java.util.Arrays.copyOfRange(back, 2, 13)).isEqualTo(data);
        assertThat(back[0]).isZero();
        assertThat(r.jsonPath().getMap("")).containsOnlyKeys("address", "size", "data");
        terminate(task);
    }

    @Test
    void readNegotiatesItsRepresentation() {
        String task = newTask();
        allocate(task, MIN, 0x4000);
        given().when().get("/tasks/" + task + "/memory/0x100000000?size=4").then().statusCode(200)
                .contentType("application/octet-stream").header("Content-Length", "4");
        given().header("Accept", "*/*").when().get("/tasks/" + task + "/memory/0x100000000?size=4").then()
                .statusCode(200).contentType("application/octet-stream");
        given().header("Accept", "text/html, application/json;q=0.5").when()
                .get("/tasks/" + task + "/memory/0x100000000?size=4").then().statusCode(200)
                .contentType(ContentType.JSON);
        given().header("Accept", "application/json;q=0.4, application/octet-stream").when()
                .get("/tasks/" + task + "/memory/0x100000000?size=4").then().statusCode(200)
                .contentType("application/octet-stream");
        assertProblem(given().header("Accept", "text/html").when()
                .get("/tasks/" + task + "/memory/0x100000000?size=4"), 406, KernReturn.KERN_INVALID_ARGUMENT,
                "/tasks/" + task + "/memory/0x100000000").body("detail", matchesPattern(".*Accept.*"));
        assertProblem(given().when().get("/tasks/" + task + "/memory/0x100000000"), 400,
                KernReturn.KERN_INVALID_ARGUMENT, null).body("detail", matchesPattern("^size is required.*"));
        terminate(task);
    }

    @Test
    void largeReadsStreamAndLargeJsonReadsStreamToo() {
        String task = newTask();
        int size = 3 * 65536 + 123;
        allocate(task, MIN, 0x40000);
        byte[] data = pattern(size, 9);
        write(task, MIN + 5, data).then().statusCode(204);
        Response raw = read(task, MIN + 5, size);
        raw.then().statusCode(200).header("Content-Length", String.valueOf(size));
        assertThat(raw.asByteArray()).isEqualTo(data);
        Response json = given().accept(ContentType.JSON).when()
                .get("/tasks/" + task + "/memory/0x100000005?size=" + size);
        json.then().statusCode(200).body("size", equalTo(hex(size)));
        assertThat(Base64.getDecoder().decode(json.jsonPath().getString("data"))).isEqualTo(data);
        assertThat(Long.parseLong(json.header("Content-Length"))).isEqualTo(json.asByteArray().length);
        terminate(task);
    }

    @Test
    void largeJsonWriteStreamsThroughThePipe() {
        String task = newTask();
        int size = 3 << 20; // base64 > 1 MiB: decoded while it streams
        allocate(task, MIN, size + 0x4000);
        byte[] data = pattern(size, 3);
        String body = "{\"ignored\":{\"x\":[1,2]},\"data\":\"" + Base64.getEncoder().encodeToString(data)
                + "\",\"after\":true}";
        given().contentType(ContentType.JSON).body(body).when().put("/tasks/" + task + "/memory/0x100000007")
                .then().statusCode(204);
        assertThat(read(task, MIN + 7, size).asByteArray()).isEqualTo(data);
        // malformed after the data: nothing changes
        String broken = "{\"data\":\"" + Base64.getEncoder().encodeToString(pattern(size, 4)) + "\",\"after\":}";
        assertProblem(given().contentType(ContentType.JSON).body(broken).when()
                .put("/tasks/" + task + "/memory/0x100000007"), 400, KernReturn.KERN_INVALID_ARGUMENT, null);
        assertThat(read(task, MIN + 7, size).asByteArray()).isEqualTo(data);
        // an unmapped destination is found when the data has arrived
        assertProblem(given().contentType(ContentType.JSON).body(body).when()
                .put("/tasks/" + task + "/memory/0x900000000"), 404, KernReturn.KERN_INVALID_ADDRESS, null);
        // an unknown task fails first
        assertProblem(given().contentType(ContentType.JSON).body(body).when()
                .put("/tasks/no-such-task/memory/0x100000000"), 404, KernReturn.MACH_SEND_INVALID_DEST, null);
        terminate(task);
    }

    @Test
    void problemTypesAreDocumented() {
        for (KernReturn kern : KernReturn.values()) {
            if (kern == KernReturn.KERN_SUCCESS) {
                assertProblem(given().when().get("/problems/KERN_SUCCESS"), 404, KernReturn.KERN_INVALID_ARGUMENT,
                        "/problems/KERN_SUCCESS");
                continue;
            }
            given().when().get("/problems/" + kern.name()).then().statusCode(200).contentType(ContentType.JSON)
                    .body("type", equalTo("/problems/" + kern.name())).body("kern", equalTo(kern.name()))
                    .body("kernReturn", equalTo(kern.value()))
                    .body("status", equalTo(ProblemTypes.status(kern)))
                    .body("title", matchesPattern(".+")).body("description", matchesPattern(".+"));
        }
        assertProblem(given().when().get("/problems/NOPE"), 404, KernReturn.KERN_INVALID_ARGUMENT, "/problems/NOPE");
    }

    @Test
    void operationsEndpointsAreUp() {
        given().when().get("/actuator/health/liveness").then().statusCode(200).body("status", equalTo("UP"));
        given().when().get("/actuator/health/readiness").then().statusCode(200);
        given().when().get("/actuator/prometheus").then().statusCode(200);
    }
}
