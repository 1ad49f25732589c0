package io.machvm.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.vm.KernReturn;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** Snapshot images over HTTP: {@code GET /tasks/{task}/snapshot}, restored by POST or PUT of the image. */
class SnapshotOverHttpTest extends SandboxTestSupport {
    private static final long A = MIN + 0x8000_0000L;

    @Test
    void aRestoredTaskIsByteIdentical() {
        String task = newTask("{\"flavor\":\"x86_64\",\"errors\":\"xnu\",\"name\":\"snap\"}");
        long p = 4096;
        allocate(task, A, 8 * p);
        allocate(task, A + 100 * p, 1L << 30); // untouched: costs nothing in the image
        byte[] bytes = pattern(3 * (int) p, 7);
        write(task, A + 3, bytes).expect(204);
        write(task, A + 100 * p + (1L << 29), pattern(10, 2)).expect(204);
        protect(task, A + 4 * p, p, false, "r--");
        protect(task, A + 5 * p, p, true, "r-x");
        inherit(task, A + 6 * p, p, "none");

        Result snap = send("GET", "/tasks/" + task + "/snapshot", null, null, "Accept", IMAGE).expect(200);
        byte[] image = snap.body();
        assertThat(snap.contentType()).isEqualTo(IMAGE);
        assertThat(snap.header("Content-Length")).isEqualTo(Integer.toString(image.length));
        assertThat(snap.header("Content-Disposition")).isEqualTo("attachment; filename=\"" + task + ".machvm\"");
        assertThat(new String(image, 0, 8, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("MACHVMTI");

        int tasks = taskCount();
        Result restored = send("POST", "/tasks", IMAGE, image).expect(201);
        JsonNode info = restored.json();
        String copy = info.path("id").asString();
        assertThat(copy).isNotEqualTo(task);
        assertThat(restored.header("Location")).isEqualTo("/tasks/" + copy);
        assertThat(taskCount()).isEqualTo(tasks + 1);
        JsonNode original = taskInfo(task);
        for (String field : new String[] {"name", "flavor", "errors", "pageSize", "regionCount", "virtualBytes",
            "residentBytes"}) {
            assertThat(info.path(field)).as(field).isEqualTo(original.path(field));
        }
        assertThat(regions(copy)).isEqualTo(regions(task));
        assertThat(readBytes(copy, A, 8 * p)).isEqualTo(readBytes(task, A, 8 * p));
        assertThat(readBytes(copy, A + 100 * p + (1L << 29), 10)).isEqualTo(pattern(10, 2));
        assertThat(snapshot(copy)).as("the image of the restored task is the same image").isEqualTo(image);

        // independent afterwards
        write(copy, A + 3, new byte[] {1}).expect(204);
        assertThat(readBytes(task, A + 3, 1)).containsExactly(bytes[0]);
        terminate(copy);
        terminate(task);
    }

    @Test
    void putRestoresUnderAChosenIdOnce() {
        String task = newTask("{\"name\":\"orig\"}");
        allocate(task, A, 2L * PAGE);
        write(task, A + 100, pattern(PAGE, 4)).expect(204);
        byte[] image = snapshot(task);
        String id = newId("restored");
        Result r = send("PUT", "/tasks/" + id, IMAGE + "; charset=binary", image).expect(201);
        assertThat(r.header("Location")).isEqualTo("/tasks/" + id);
        assertThat(r.json().path("id").asString()).isEqualTo(id);
        assertThat(r.json().path("name").asString()).isEqualTo("orig");
        assertThat(readBytes(id, A + 100, PAGE)).isEqualTo(pattern(PAGE, 4));

        long resident = residentPages();
        int tasks = taskCount();
        JsonNode p = send("PUT", "/tasks/" + id, IMAGE, image).problem(409, KernReturn.KERN_NAME_EXISTS);
        assertThat(p.path("instance").asString()).isEqualTo("/tasks/" + id);
        send("PUT", "/tasks/" + task, IMAGE, image).problem(409, KernReturn.KERN_NAME_EXISTS);
        send("PUT", "/tasks/" + "x".repeat(65), IMAGE, image).problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        assertThat(taskCount()).isEqualTo(tasks);
        assertThat(residentPages()).isEqualTo(resident);
        terminate(id);
        terminate(task);
    }

    @Test
    void acceptAndQueryAreChecked() {
        String task = newTask();
        send("GET", "/tasks/" + task + "/snapshot", null, null).expect(200);
        send("GET", "/tasks/" + task + "/snapshot", null, null, "Accept", "*/*").expect(200);
        send("GET", "/tasks/" + task + "/snapshot", null, null, "Accept", "application/*").expect(200);
        send("GET", "/tasks/" + task + "/snapshot", null, null, "Accept", "application/json;q=0.5, " + IMAGE)
                .expect(200);
        send("GET", "/tasks/" + task + "/snapshot", null, null, "Accept", "application/json")
                .problem(406, KernReturn.KERN_INVALID_ARGUMENT);
        send("GET", "/tasks/" + task + "/snapshot?clearDirty=yes", null, null)
                .problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        send("GET", "/tasks/" + task + "/snapshot?clearDirty=false", null, null).expect(200);
        send("GET", "/tasks/" + newId("none") + "/snapshot", null, null)
                .problem(404, KernReturn.MACH_SEND_INVALID_DEST);
        // an empty task has an image too, and it restores
        String copy = send("POST", "/tasks", IMAGE, snapshot(task)).expect(201).json().path("id").asString();
        assertThat(taskInfo(copy).path("regionCount").asInt()).isZero();
        terminate(copy);
        terminate(task);
    }

    @Test
    void corruptOrTruncatedImagesAreRefusedAndCreateNothing() {
        String task = newTask();
        allocate(task, A, 4L * PAGE);
        write(task, A, pattern(3 * PAGE, 1)).expect(204);
        byte[] image = snapshot(task);
        long resident = residentPages();
        int tasks = taskCount();
        int[] flips = {0, 9, 12, 20, 40, 60, image.length / 2, image.length - 13, image.length - 5,
            image.length - 1};
        for (int position : flips) {
            byte[] corrupt = image.clone();
            corrupt[position] ^= 0x40;
            String detail = send("POST", "/tasks", IMAGE, corrupt).problem(400, KernReturn.KERN_INVALID_ARGUMENT)
                    .path("detail").asString();
            assertThat(detail).as("flipped byte %d", position).contains("corrupt");
        }
        for (int length : new int[] {0, 5, 30, image.length / 3, image.length - 1}) {
            send("POST", "/tasks", IMAGE, Arrays.copyOf(image, length))
                    .problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        }
        send("POST", "/tasks", IMAGE, Arrays.copyOf(image, image.length + 1))
                .problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        String id = newId("corrupt");
        byte[] corrupt = image.clone();
        corrupt[image.length / 2] ^= 1;
        send("PUT", "/tasks/" + id, IMAGE, corrupt).problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        get("/tasks/" + id).problem(404, KernReturn.MACH_SEND_INVALID_DEST);
        // a JSON body is not an image, and an image is not JSON
        send("POST", "/tasks", "application/json", image).problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        send("POST", "/tasks", "application/octet-stream", image).problem(415, KernReturn.KERN_INVALID_ARGUMENT);
        assertThat(taskCount()).isEqualTo(tasks);
        assertThat(residentPages()).isEqualTo(resident);
        terminate(task);
    }

    @Test
    void restoringBeyondCapacityIs507AndCreatesNothing() {
        String task = newTask();
        long size = 8L << 20;
        allocate(task, A, size);
        write(task, A, pattern((int) size, 9)).expect(204);
        byte[] image = snapshot(task);

        // fill the store until fewer pages are free than the image holds
        long free = statistics().path("freePages").asLong();
        long fillPages = free - size / PAGE / 2;
        String filler = newTask();
        allocate(filler, MIN, fillPages * PAGE);
        byte[] chunk = pattern(16 << 20, 1);
        for (long at = 0; at < fillPages * PAGE; at += chunk.length) {
            int n = (int) Math.min(chunk.length, fillPages * PAGE - at);
            write(filler, MIN + at, n == chunk.length ? chunk : Arrays.copyOf(chunk, n)).expect(204);
        }
        long resident = residentPages();
        int tasks = taskCount();
        send("POST", "/tasks", IMAGE, image).problem(507, KernReturn.KERN_RESOURCE_SHORTAGE);
        send("PUT", "/tasks/" + newId("full"), IMAGE, image).problem(507, KernReturn.KERN_RESOURCE_SHORTAGE);
        assertThat(residentPages()).isEqualTo(resident);
        assertThat(taskCount()).isEqualTo(tasks);

        terminate(filler);
        String copy = send("POST", "/tasks", IMAGE, image).expect(201).json().path("id").asString();
        assertThat(readBytes(copy, A + size - 100, 100)).isEqualTo(Arrays.copyOfRange(pattern((int) size, 9),
                (int) size - 100, (int) size));
        terminate(copy);
        terminate(task);
    }
}
