package io.machvm.api;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.allOf;
import static org.hamcrest.Matchers.containsString;

import io.machvm.vm.KernReturn;
import io.restassured.http.ContentType;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/**
 * The JSON (base64) forms of vm_write and vm_read carry at most 16 MiB of data, even where machvm.api.max-transfer
 * allows more (64 MiB here): the whole body is held in heap memory, base64 costs a third more, and the raw form is
 * streamed. Beyond it the answer is a 413 that names the octet-stream form, and nothing changes. Before, a 48 MiB JSON
 * write went through.
 */
class JsonFallbackBoundsTest extends ApiTestSupport {
    private static final int JSON_LIMIT = 16 << 20;

    @Test
    void aJsonWriteOverSixteenMebibytesIsA413NamingTheRawFormAndChangesNothing() {
        String task = newTask();
        allocate(task, MIN, JSON_LIMIT + 0x10000);
        String path = "/tasks/" + task + "/memory/0x100000000";
        byte[] over = pattern(JSON_LIMIT + 1024, 5);
        String body = "{\"data\":\"" + Base64.getEncoder().encodeToString(over) + "\"}";
        assertProblem(given().contentType(ContentType.JSON).body(body).when().put(path), 413,
                KernReturn.KERN_INVALID_ARGUMENT, path)
                .body("detail", allOf(containsString("16777216"), containsString("application/octet-stream")));
        // vm_write_base64 has the same bound
        String base64Path = "/tasks/" + task + "/write";
        assertProblem(given().contentType(ContentType.JSON).body("{\"address\":\"0x100000000\"," + body.substring(1))
                .when().post(base64Path), 413, KernReturn.KERN_INVALID_ARGUMENT, base64Path);
        given().when().get("/tasks/" + task).then().statusCode(200)
                .body("residentBytes", org.hamcrest.Matchers.equalTo("0x0"));
        // the raw form takes the same bytes
        write(task, MIN, over).then().statusCode(204);
        assertThat(readBytes(task, MIN + JSON_LIMIT, 1024)).isEqualTo(java.util.Arrays.copyOfRange(over,
                JSON_LIMIT, JSON_LIMIT + 1024));
        terminate(task);
    }

    @Test
    void aJsonReadOverSixteenMebibytesIsA413NamingTheRawForm() {
        String task = newTask();
        allocate(task, MIN, JSON_LIMIT + 0x10000);
        String path = "/tasks/" + task + "/memory/0x100000000";
        assertProblem(given().accept(ContentType.JSON).queryParam("size", hex(JSON_LIMIT + 1)).when().get(path), 413,
                KernReturn.KERN_INVALID_ARGUMENT, path).body("detail", containsString("application/octet-stream"));
        // at the bound it answers, and the raw form answers beyond it
        given().accept(ContentType.JSON).queryParam("size", hex(JSON_LIMIT)).when().get(path).then().statusCode(200);
        given().accept("application/octet-stream").queryParam("size", hex(JSON_LIMIT + 1)).when().get(path).then()
                .statusCode(200);
        terminate(task);
    }
}
