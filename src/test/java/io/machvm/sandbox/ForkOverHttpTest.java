package io.machvm.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.vm.KernReturn;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** Fork over HTTP: {@code POST /tasks} and {@code PUT /tasks/{task}} with {@code {"parent"}}. */
class ForkOverHttpTest extends SandboxTestSupport {
    private static final long A = MIN;
    private static final long P = PAGE;

    @Test
    void theChildFollowsEachRegionsInheritance() {
        String parent = newTask("{\"name\":\"fork-parent\"}");
        allocate(parent, A, 6 * P);
        byte[] bytes = pattern(6 * PAGE, 1);
        write(parent, A, bytes).expect(204);
        inherit(parent, A + 2 * P, 2 * P, "share");
        inherit(parent, A + 4 * P, 2 * P, "none");
        long resident = residentPages();

        Result created = json("POST", "/tasks", "{\"parent\":\"" + parent + "\"}").expect(201);
        JsonNode child = created.json();
        String id = child.path("id").asString();
        assertThat(created.header("Location")).isEqualTo("/tasks/" + id);
        assertThat(id).isNotEqualTo(parent);
        assertThat(child.path("name").asString()).as("the parent's name by default").isEqualTo("fork-parent");
        assertThat(child.path("flavor").asString()).isEqualTo("arm64");
        assertThat(child.path("errors").asString()).isEqualTo("documented");
        assertThat(child.path("regionCount").asInt()).isEqualTo(2);
        assertThat(child.path("virtualBytes").asString()).isEqualTo(hex(4 * P));
        assertThat(child.path("residentBytes").asString()).isEqualTo(hex(4 * P));
        assertThat(residentPages()).as("fork copies no page").isEqualTo(resident);

        // copy and share reach the child, none does not; the shared region is flagged in both tasks
        JsonNode regions = regions(id);
        assertThat(regions).hasSize(2);
        assertThat(regions.get(0).path("address").asString()).isEqualTo(hex(A));
        assertThat(regions.get(0).path("size").asString()).isEqualTo(hex(2 * P));
        assertThat(regions.get(0).path("inheritance").asString()).isEqualTo("copy");
        assertThat(regions.get(0).path("shared").asBoolean()).isFalse();
        assertThat(regions.get(1).path("address").asString()).isEqualTo(hex(A + 2 * P));
        assertThat(regions.get(1).path("inheritance").asString()).isEqualTo("share");
        assertThat(regions.get(1).path("shared").asBoolean()).isTrue();
        assertThat(get("/tasks/" + parent + "/regions/" + hex(A + 2 * P)).expect(200).json()
                .path("shared").asBoolean()).isTrue();
        assertThat(readBytes(id, A, 4 * P)).isEqualTo(Arrays.copyOf(bytes, 4 * PAGE));
        read(id, A + 4 * P, 1).problem(404, KernReturn.KERN_INVALID_ADDRESS);

        // copy: copy-on-write, independent both ways
        write(id, A, new byte[] {9}).expect(204);
        write(parent, A + 1, new byte[] {8}).expect(204);
        assertThat(readBytes(parent, A, 2)).containsExactly(bytes[0], 8);
        assertThat(readBytes(id, A, 2)).containsExactly(9, bytes[1]);
        assertThat(residentPages()).as("the first write to a COW page copies that page only").isEqualTo(resident + 1);

        // share: a write in one task shows in the other, both ways
        write(id, A + 2 * P + 5, new byte[] {42}).expect(204);
        assertThat(readBytes(parent, A + 2 * P + 5, 1)).containsExactly(42);
        write(parent, A + 3 * P + 7, new byte[] {43}).expect(204);
        assertThat(readBytes(id, A + 3 * P + 7, 1)).containsExactly(43);

        // shared memory outlives one sharer
        terminate(parent);
        assertThat(readBytes(id, A + 2 * P + 5, 1)).containsExactly(42);
        terminate(id);
    }

    @Test
    void aForkOfAForkAndOfSharedMemoryAsCopy() {
        String a = newTask("{\"flavor\":\"x86_64\"}");
        int p = 4096;
        allocate(a, A, 2L * p);
        write(a, A, pattern(2 * p, 5)).expect(204);
        inherit(a, A, p, "share");
        String b = json("POST", "/tasks", "{\"parent\":\"" + a + "\",\"name\":\"b\"}").expect(201).json()
                .path("id").asString();
        assertThat(taskInfo(b).path("flavor").asString()).isEqualTo("x86_64");
        assertThat(taskInfo(b).path("name").asString()).isEqualTo("b");
        inherit(b, A, p, "copy"); // b's child gets a private copy of the page b shares with a
        String c = json("POST", "/tasks", "{\"parent\":\"" + b + "\"}").expect(201).json().path("id").asString();
        write(a, A, new byte[] {99}).expect(204);
        assertThat(readBytes(b, A, 1)).containsExactly(99);
        assertThat(readBytes(c, A, 1)).containsExactly(pattern(1, 5)[0]);
        write(c, A + p, new byte[] {77}).expect(204);
        assertThat(readBytes(a, A + p, 1)).containsExactly(pattern(p + 1, 5)[p]);
        terminate(a);
        terminate(b);
        terminate(c);
    }

    @Test
    void putForksUnderAChosenId() {
        String parent = newTask("{\"errors\":\"xnu\",\"name\":\"p\"}");
        allocate(parent, A, P);
        write(parent, A, new byte[] {1, 2, 3}).expect(204);
        String id = newId("child");
        Result r = json("PUT", "/tasks/" + id, "{\"parent\":\"" + parent + "\",\"name\":\"kid\",\"errors\":\"xnu\"}")
                .expect(201);
        assertThat(r.header("Location")).isEqualTo("/tasks/" + id);
        assertThat(r.json().path("id").asString()).isEqualTo(id);
        assertThat(r.json().path("name").asString()).isEqualTo("kid");
        assertThat(r.json().path("errors").asString()).isEqualTo("xnu");
        assertThat(readBytes(id, A, 3)).containsExactly(1, 2, 3);

        // a fork is not idempotent: the id is taken, whatever the body
        long resident = residentPages();
        int tasks = taskCount();
        json("PUT", "/tasks/" + id, "{\"parent\":\"" + parent + "\"}").problem(409, KernReturn.KERN_NAME_EXISTS);
        // refused before the fork: the would-be parent's share region is not shared with anyone
        String q = newTask();
        allocate(q, A, P);
        inherit(q, A, P, "share");
        json("PUT", "/tasks/" + id, "{\"parent\":\"" + q + "\"}").problem(409, KernReturn.KERN_NAME_EXISTS);
        assertThat(regions(q).get(0).path("shared").asBoolean()).isFalse();
        json("PUT", "/tasks/bad%20id", "{\"parent\":\"" + parent + "\"}").problem(400,
                KernReturn.KERN_INVALID_ARGUMENT);
        assertThat(taskCount()).isEqualTo(tasks + 1);
        assertThat(residentPages()).isEqualTo(resident);
        terminate(q);
        terminate(id);
        terminate(parent);
    }

    @Test
    void refusalsCreateNothing() {
        String parent = newTask("{\"flavor\":\"x86_64\",\"errors\":\"xnu\"}");
        int tasks = taskCount();
        String none = newId("none");
        JsonNode p = json("POST", "/tasks", "{\"parent\":\"" + none + "\"}")
                .problem(404, KernReturn.MACH_SEND_INVALID_DEST);
        assertThat(p.path("instance").asString()).isEqualTo("/tasks");
        assertThat(p.path("detail").asString()).contains(none);
        json("PUT", "/tasks/" + newId("c"), "{\"parent\":\"" + none + "\"}")
                .problem(404, KernReturn.MACH_SEND_INVALID_DEST);
        json("POST", "/tasks", "{\"parent\":\"" + none + "\",\"flavor\":\"arm64\"}")
                .problem(404, KernReturn.MACH_SEND_INVALID_DEST);
        String detail = json("POST", "/tasks", "{\"parent\":\"" + parent + "\",\"flavor\":\"arm64\"}")
                .problem(400, KernReturn.KERN_INVALID_ARGUMENT).path("detail").asString();
        assertThat(detail).contains("flavor", "x86_64");
        detail = json("POST", "/tasks", "{\"parent\":\"" + parent + "\",\"errors\":\"documented\"}")
                .problem(400, KernReturn.KERN_INVALID_ARGUMENT).path("detail").asString();
        assertThat(detail).contains("errors", "xnu");
        json("POST", "/tasks", "{\"parent\":42}").problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        assertThat(taskCount()).isEqualTo(tasks);

        // the same settings as the parent's are fine
        String child = json("POST", "/tasks", "{\"parent\":\"" + parent + "\",\"flavor\":\"x86_64\",\"errors\":\"xnu\"}")
                .expect(201).json().path("id").asString();
        assertThat(taskInfo(child).path("pageSize").asInt()).isEqualTo(4096);
        terminate(child);
        terminate(parent);
    }

    /** Fork of a task with 64 MiB resident (the CI-sized stand-in for 1 GiB): no byte moves, every page is shared. */
    @Test
    void forkOf64MiBResidentCopiesNoBytes() {
        long size = 64L << 20;
        String parent = newTask();
        allocate(parent, A, size);
        byte[] chunk = pattern(16 << 20, 3);
        for (long at = 0; at < size; at += chunk.length) {
            write(parent, A + at, chunk).expect(204);
        }
        JsonNode before = statistics();
        long resident = before.path("residentPages").asLong();
        long shared = before.path("sharedPages").asLong();

        long start = System.nanoTime();
        String child = json("POST", "/tasks", "{\"parent\":\"" + parent + "\"}").expect(201).json().path("id")
                .asString();
        long forkMicros = (System.nanoTime() - start) / 1000;

        JsonNode after = statistics();
        assertThat(after.path("residentPages").asLong()).as("fork copies no page").isEqualTo(resident);
        assertThat(after.path("sharedPages").asLong() - shared).as("every page is shared copy-on-write")
                .isEqualTo(size / PAGE);
        assertThat(taskInfo(child).path("residentBytes").asString()).isEqualTo(hex(size));
        assertThat(readBytes(child, A + size - chunk.length, chunk.length)).isEqualTo(chunk);
        write(child, A + (32L << 20), new byte[] {1}).expect(204);
        assertThat(residentPages()).as("one write copies one page").isEqualTo(resident + 1);
        assertThat(readBytes(parent, A + (32L << 20), 1)).containsExactly(chunk[0]);
        System.out.printf("fork of a task with 64 MiB resident over HTTP: %d us%n", forkMicros);
        terminate(child);
        terminate(parent);
        assertThat(residentPages()).isEqualTo(resident - size / PAGE);
    }
}
