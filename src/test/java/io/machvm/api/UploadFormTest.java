package io.machvm.api;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import io.machvm.vm.KernReturn;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import jakarta.servlet.ServletContext;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

/**
 * The multipart/form-data forms of the raw uploads ({@code vm_write_form}, {@code task_restore_form},
 * {@code task_restore_with_id_form}) over HTTP: the one file part is streamed into the call, and every body that is
 * not exactly that part (none, a form field, another name, two parts, a truncated body, too many bytes, another type)
 * is a problem that changes nothing. Nothing is staged: the container's temporary directory stays as it was.
 */
class UploadFormTest extends ApiTestSupport {
    private static final String BOUNDARY = "machvm-test-boundary";
    private static final String MULTIPART = "multipart/form-data; boundary=" + BOUNDARY;

    @Autowired
    ServletContext servletContext;

    private List<String> stagedBefore;

    @BeforeEach
    void noteStagedFiles() {
        stagedBefore = stagedFiles();
    }

    @AfterEach
    void nothingWasStaged() {
        assertThat(stagedFiles()).isEqualTo(stagedBefore);
    }

    @Test
    void vmWriteFormWritesTheFilePart() {
        String task = newTask();
        allocate(task, MIN, 0x20000);
        byte[] bytes = new byte[64 * 1024];
        new Random(12).nextBytes(bytes);
        given().multiPart("data", "upload.bin", bytes, "application/octet-stream")
                .when().put("/tasks/" + task + "/memory/0x100000001/form").then().statusCode(204);
        assertThat(readBytes(task, MIN + 1, bytes.length)).isEqualTo(bytes);
        // a part of any type, as a browser labels a file it does not know
        formWrite(task, MIN, body(part("data", "a.txt", "text/plain", new byte[] {9}))).then().statusCode(204);
        assertThat(readBytes(task, MIN, 2)).containsExactly(9, bytes[0]);
        terminate(task);
    }

    @Test
    void vmWriteFormRefusesAnyOtherBodyAndChangesNothing() {
        String task = newTask();
        allocate(task, MIN, 0x8000);
        byte[] before = pattern(0x8000, 3);
        write(task, MIN, before).then().statusCode(204);
        byte[] other = pattern(0x100, 4);
        String path = "/tasks/" + task + "/memory/0x100000000/form";

        assertProblem(formWrite(task, MIN, body()), 400, KernReturn.KERN_INVALID_ARGUMENT, path)
                .body("detail", containsString("has no part"));
        assertProblem(formWrite(task, MIN, body(part("data", null, null, other))), 400,
                KernReturn.KERN_INVALID_ARGUMENT, path).body("detail", containsString("form field, not a file"));
        assertProblem(formWrite(task, MIN, body(part("file", "x.bin", "application/octet-stream", other))), 400,
                KernReturn.KERN_INVALID_ARGUMENT, path).body("detail", containsString("named \"file\""));
        assertProblem(formWrite(task, MIN, body(part("data", "x.bin", "application/octet-stream", other),
                part("data", "y.bin", "application/octet-stream", other))), 400, KernReturn.KERN_INVALID_ARGUMENT,
                path).body("detail", containsString("a part after \"data\""));
        assertProblem(formWrite(task, MIN, body(part("data", "x.bin", "application/octet-stream", other),
                part("note", null, null, other))), 400, KernReturn.KERN_INVALID_ARGUMENT, path);
        byte[] truncated = concat(part("data", "x.bin", "application/octet-stream", other));
        assertProblem(formWrite(task, MIN, truncated), 400, KernReturn.KERN_INVALID_ARGUMENT, path)
                .body("detail", containsString("closing boundary"));
        assertProblem(given().contentType("multipart/form-data").body(body(part("data", "x.bin", null, other)))
                .when().put(path), 400, KernReturn.KERN_INVALID_ARGUMENT, path)
                .body("detail", containsString("boundary"));
        assertProblem(given().contentType(ContentType.BINARY).body(other).when().put(path), 415,
                KernReturn.KERN_INVALID_ARGUMENT, path);
        assertProblem(given().contentType("multipart/mixed; boundary=" + BOUNDARY)
                .body(body(part("data", "x.bin", null, other))).when().put(path), 415,
                KernReturn.KERN_INVALID_ARGUMENT, path);
        assertThat(readBytes(task, MIN, before.length)).isEqualTo(before);

        // the Mach checks of the call itself, once the part has arrived
        protect(task, MIN + 0x4000, 0x4000, false, "r--");
        assertProblem(formWrite(task, MIN + 0x3f80, body(part("data", "x.bin", null, other))), 403,
                KernReturn.KERN_PROTECTION_FAILURE, null);
        assertThat(readBytes(task, MIN, before.length)).isEqualTo(before);
        terminate(task);
        assertProblem(formWrite(task, MIN, body(part("data", "x.bin", null, other))), 404,
                KernReturn.MACH_SEND_INVALID_DEST, null);
    }

    @Test
    void aPartOverTheTransferLimitIs413AndChangesNothing() throws Exception {
        String task = newTask();
        allocate(task, MIN, MAX_TRANSFER + 0x8000);
        byte[] before = pattern(0x4000, 5);
        write(task, MIN, before).then().statusCode(204);
        long resident = given().when().get("/host/statistics").then().extract().jsonPath().getLong("residentPages");

        InputStream body = new SequenceInputStream(new ByteArrayInputStream(partHead("data", "big.bin",
                "application/octet-stream")), new SequenceInputStream(zeros(MAX_TRANSFER + 1),
                new ByteArrayInputStream(("\r\n--" + BOUNDARY + "--\r\n").getBytes(StandardCharsets.US_ASCII))));
        HttpResponse<String> answer = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build().send(
                HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/tasks/" + task
                        + "/memory/0x100000000/form")).header("Content-Type", MULTIPART)
                        .PUT(HttpRequest.BodyPublishers.ofInputStream(() -> body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(answer.statusCode()).isEqualTo(413);
        assertThat(answer.body()).contains("\"kern\":\"KERN_INVALID_ARGUMENT\"");
        assertThat(readBytes(task, MIN, before.length)).isEqualTo(before);
        assertThat(given().when().get("/host/statistics").then().extract().jsonPath().getLong("residentPages"))
                .isEqualTo(resident);
        terminate(task);
    }

    @Test
    void restoreFormsRestoreTheImagePart() {
        String task = newTask();
        allocate(task, MIN, 0x8000);
        byte[] bytes = pattern(0x8000, 6);
        write(task, MIN, bytes).then().statusCode(204);
        byte[] image = snapshot(task);

        Response minted = formPost("/tasks/restore/form", body(part("image", "t.machvm", null, image)));
        minted.then().statusCode(201).header("Location", "/tasks/" + minted.jsonPath().getString("id"));
        assertThat(readBytes(minted.jsonPath().getString("id"), MIN, bytes.length)).isEqualTo(bytes);

        String chosen = "form-restored-" + System.nanoTime();
        formPut("/tasks/" + chosen + "/snapshot/form", body(part("image", "t.machvm", null, image)))
                .then().statusCode(201).header("Location", "/tasks/" + chosen).body("id", equalTo(chosen));
        assertThat(readBytes(chosen, MIN, bytes.length)).isEqualTo(bytes);
        // an existing id is refused before the body is read
        assertProblem(formPut("/tasks/" + chosen + "/snapshot/form", body(part("image", "t.machvm", null, image))),
                409, KernReturn.KERN_NAME_EXISTS, null);
        for (String t : List.of(task, minted.jsonPath().getString("id"), chosen)) {
            terminate(t);
        }
    }

    @Test
    void restoreFormsRefuseAnyOtherBodyAndCreateNothing() {
        String task = newTask();
        allocate(task, MIN, 0x4000);
        byte[] image = snapshot(task);
        terminate(task);
        int tasks = taskCount();
        String chosen = "form-refused-" + System.nanoTime();
        byte[] corrupt = image.clone();
        corrupt[corrupt.length / 2] ^= 1;

        List<byte[]> bodies = List.of(body(), body(part("image", null, null, image)),
                body(part("data", "t.machvm", null, image)),
                body(part("image", "t.machvm", null, image), part("image", "u.machvm", null, image)),
                concat(part("image", "t.machvm", null, image)),
                body(part("image", "t.machvm", null, corrupt)));
        for (byte[] body : bodies) {
            assertProblem(formPost("/tasks/restore/form", body), 400, KernReturn.KERN_INVALID_ARGUMENT,
                    "/tasks/restore/form");
            assertProblem(formPut("/tasks/" + chosen + "/snapshot/form", body), 400,
                    KernReturn.KERN_INVALID_ARGUMENT, "/tasks/" + chosen + "/snapshot/form");
        }
        assertProblem(given().contentType("application/vnd.machvm.snapshot").body(image).when()
                .post("/tasks/restore/form"), 415, KernReturn.KERN_INVALID_ARGUMENT, null);
        assertProblem(given().contentType("application/vnd.machvm.snapshot").body(image).when()
                .put("/tasks/" + chosen + "/snapshot/form"), 415, KernReturn.KERN_INVALID_ARGUMENT, null);
        assertThat(taskCount()).isEqualTo(tasks);
        assertProblem(given().when().get("/tasks/" + chosen), 404, KernReturn.MACH_SEND_INVALID_DEST, null);
    }

    /** Multipart stays refused where it is not the declared body: the raw uploads and every JSON call. */
    @Test
    void multipartIsRefusedEverywhereElse() {
        String task = newTask();
        allocate(task, MIN, 0x4000);
        byte[] form = body(part("data", "x.bin", null, new byte[] {1}));
        assertProblem(formPut("/tasks/" + task + "/memory/0x100000000", form), 415,
                KernReturn.KERN_INVALID_ARGUMENT, null);
        assertProblem(formPost("/tasks/restore", form), 415, KernReturn.KERN_INVALID_ARGUMENT, null);
        assertProblem(formPut("/tasks/" + task + "/snapshot", form), 415, KernReturn.KERN_INVALID_ARGUMENT, null);
        assertProblem(formPost("/tasks", form), 415, KernReturn.KERN_INVALID_ARGUMENT, null);
        assertProblem(formPost("/tasks/" + task + "/write", form), 415, KernReturn.KERN_INVALID_ARGUMENT, null);
        assertProblem(formPost("/tasks/" + task + "/allocate", form), 415, KernReturn.KERN_INVALID_ARGUMENT, null);
        assertThat(readBytes(task, MIN, 1)).containsExactly(0);
        terminate(task);
    }

    private static Response formWrite(String task, long address, byte[] body) {
        return formPut("/tasks/" + task + "/memory/" + hex(address) + "/form", body);
    }

    private static Response formPut(String path, byte[] body) {
        return given().contentType(MULTIPART).body(body).when().put(path);
    }

    private static Response formPost(String path, byte[] body) {
        return given().contentType(MULTIPART).body(body).when().post(path);
    }

    private static byte[] snapshot(String task) {
        return given().when().get("/tasks/" + task + "/snapshot").then().statusCode(200).extract().asByteArray();
    }

    private static int taskCount() {
        return given().when().get("/tasks").then().statusCode(200).extract().jsonPath().getList("$").size();
    }

    /** A part: its headers and content, with the delimiter before it; {@code filename} null for a form field. */
    private static byte[] part(String name, String filename, String type, byte[] content) {
        return concat(partHead(name, filename, type), content);
    }

    private static byte[] partHead(String name, String filename, String type) {
        return ("--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"" + name + "\""
                + (filename == null ? "" : "; filename=\"" + filename + "\"") + "\r\n"
                + (type == null ? "" : "Content-Type: " + type + "\r\n") + "\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    /** A whole body: the parts, each ended by a line break, and the closing delimiter. */
    private static byte[] body(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
            out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        out.writeBytes(("--" + BOUNDARY + "--\r\n").getBytes(StandardCharsets.US_ASCII));
        return out.toByteArray();
    }

    private static byte[] concat(byte[]... pieces) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] piece : pieces) {
            out.writeBytes(piece);
        }
        return out.toByteArray();
    }

    private static InputStream zeros(long count) {
        return new InputStream() {
            private long left = count;

            @Override
            public int read() {
                return left-- > 0 ? 0 : -1;
            }

            @Override
            public int read(byte[] buffer, int offset, int length) {
                if (left <= 0) {
                    return -1;
                }
                int n = (int) Math.min(length, left);
                java.util.Arrays.fill(buffer, offset, offset + n, (byte) 0);
                left -= n;
                return n;
            }
        };
    }

    /** The files under the container's temporary directory, where Servlet multipart parsing would stage parts. */
    private List<String> stagedFiles() {
        File dir = (File) servletContext.getAttribute(ServletContext.TEMPDIR);
        try (Stream<java.nio.file.Path> files = java.nio.file.Files.walk(dir.toPath())) {
            return files.map(java.nio.file.Path::toString).sorted().toList();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
