package io.machvm.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.vm.KernReturn;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** Dirty pages over HTTP: {@code GET /tasks/{task}/pages} and {@code DELETE /tasks/{task}/pages/dirty}. */
class PageQueryOverHttpTest extends SandboxTestSupport {
    private static final int PRESENT = 0x1;
    private static final int DIRTY = 0x8;
    private static final int SHARED = 0x20;
    private static final long A = MIN;
    private static final long P = PAGE;

    private JsonNode query(String task, long address, long size) {
        Result r = get("/tasks/" + task + "/pages?address=" + hex(address) + "&size=" + size).expect(200);
        assertThat(r.contentType()).startsWith("application/json");
        return r.json();
    }

    /** The dispositions, checked against the page objects. */
    private List<Integer> dispositions(String task, long address, long size) {
        JsonNode q = query(task, address, size);
        List<Integer> out = new ArrayList<>();
        JsonNode pages = q.path("pages");
        int pageSize = q.path("pageSize").asInt();
        long first = Long.decode(q.path("address").asString());
        assertThat(pages.size()).isEqualTo(q.path("dispositions").size());
        assertThat(q.path("size").asString()).isEqualTo(hex((long) pages.size() * pageSize));
        for (int i = 0; i < pages.size(); i++) {
            int d = q.path("dispositions").get(i).asInt();
            JsonNode page = pages.get(i);
            assertThat(page.path("address").asString()).isEqualTo(hex(first + (long) i * pageSize));
            assertThat(page.path("present").asBoolean()).isEqualTo((d & PRESENT) != 0);
            assertThat(page.path("dirty").asBoolean()).isEqualTo((d & DIRTY) != 0);
            assertThat(page.path("shared").asBoolean()).isEqualTo((d & SHARED) != 0);
            out.add(d);
        }
        return out;
    }

    @Test
    void writesMarkPagesDirtyAndClearingForgetsThem() {
        String task = newTask();
        allocate(task, A, 6 * P);
        write(task, A + 10, pattern(PAGE, 1)).expect(204); // pages 0 and 1
        assertThat(dispositions(task, A, 6 * P)).containsExactly(PRESENT | DIRTY, PRESENT | DIRTY, 0, 0, 0, 0);

        send("DELETE", "/tasks/" + task + "/pages/dirty", null, null).expect(204);
        assertThat(dispositions(task, A, 6 * P)).containsExactly(PRESENT, PRESENT, 0, 0, 0, 0);

        // a whole-page vm_copy shares the page copy-on-write: both show shared, the destination is dirty
        json("POST", "/tasks/" + task + "/copy", "{\"sourceAddress\":\"" + hex(A) + "\",\"size\":\"" + hex(P)
                + "\",\"destAddress\":\"" + hex(A + 3 * P) + "\"}").expect(204);
        List<Integer> d = dispositions(task, A, 6 * P);
        assertThat(d.get(0)).isEqualTo(PRESENT | SHARED);
        assertThat(d.get(3)).isEqualTo(PRESENT | SHARED | DIRTY);
        write(task, A + 5 * P + 7, new byte[] {1}).expect(204);
        assertThat(dispositions(task, A + 5 * P, 1)).containsExactly(PRESENT | DIRTY);

        // a snapshot with clearDirty starts the next increment
        send("GET", "/tasks/" + task + "/snapshot?clearDirty=true", null, null).expect(200);
        assertThat(dispositions(task, A, 6 * P)).noneMatch(x -> (x & DIRTY) != 0);
        write(task, A + 2 * P, new byte[] {1}).expect(204);
        assertThat(dispositions(task, A, 6 * P)).containsExactly(PRESENT | SHARED, PRESENT, PRESENT | DIRTY,
                PRESENT | SHARED, 0, PRESENT);
        // a snapshot without clearDirty leaves the dirty set alone
        send("GET", "/tasks/" + task + "/snapshot", null, null).expect(200);
        assertThat(dispositions(task, A + 2 * P, 1)).containsExactly(PRESENT | DIRTY);
        terminate(task);
    }

    @Test
    void memorySharedByForkShowsShared() {
        String parent = newTask();
        allocate(parent, A, 2 * P);
        inherit(parent, A, P, "share");
        write(parent, A + P, new byte[] {1}).expect(204);
        send("DELETE", "/tasks/" + parent + "/pages/dirty", null, null).expect(204);
        String child = json("POST", "/tasks", "{\"parent\":\"" + parent + "\"}").expect(201).json().path("id")
                .asString();
        // the shared region is shared even where untouched; the copied page is shared copy-on-write
        assertThat(dispositions(parent, A, 2 * P)).containsExactly(SHARED, PRESENT | SHARED);
        assertThat(dispositions(child, A, 2 * P)).containsExactly(SHARED, PRESENT | SHARED);
        write(child, A, new byte[] {2}).expect(204);
        assertThat(dispositions(parent, A, P)).as("a write into shared memory is dirty for every sharer")
                .containsExactly(PRESENT | SHARED | DIRTY);
        terminate(child);
        terminate(parent);
    }

    @Test
    void rangesAreTruncatedToPagesAndUnmappedPagesAreZero() {
        String task = newTask("{\"flavor\":\"x86_64\"}");
        allocate(task, A, 4096);
        write(task, A, new byte[] {1}).expect(204);
        JsonNode q = query(task, A + 4095, 2); // touches two 4 KiB pages
        assertThat(q.path("address").asString()).isEqualTo(hex(A));
        assertThat(q.path("pageSize").asInt()).isEqualTo(4096);
        assertThat(q.path("size").asString()).isEqualTo("0x2000");
        assertThat(dispositions(task, A + 4095, 2)).containsExactly(PRESENT | DIRTY, 0);
        assertThat(dispositions(task, 0, 4096)).containsExactly(0);
        assertThat(dispositions(task, 0x7fff_ffe0_0000L - 4096, 8192)).as("at and past the map maximum")
                .containsExactly(0, 0);

        // size 0: no page, whatever the address
        q = query(task, -1L, 0);
        assertThat(q.path("dispositions")).isEmpty();
        assertThat(q.path("pages")).isEmpty();
        assertThat(q.path("size").asString()).isEqualTo("0x0");
        terminate(task);
    }

    @Test
    void badRangesAreRefused() {
        String task = newTask();
        String base = "/tasks/" + task + "/pages";
        get(base + "?address=0x100000000").problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        get(base + "?size=1").problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        get(base + "?address=0x100000000&size=-1").problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        get(base + "?address=0xfffffffffffffffe&size=4").problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        get(base + "?address=0xfffffffffffff000&size=0x1000").problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        get(base + "?address=nowhere&size=4").problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        get(base + "?address=0x10000000000000000&size=4").problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        // a short request may not ask for a huge answer: at most 65536 pages (F10: 2^20 pages answered 76.5 MB)
        String detail = get(base + "?address=0x100000000&size=" + hex(((1L << 16) + 1) * P))
                .problem(400, KernReturn.KERN_INVALID_ARGUMENT).path("detail").asString();
        assertThat(detail).contains("65536", "in parts");
        get(base + "?address=0x100000000&size=" + hex((1L << 20) * P)).problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        // the largest query answers 65536 pages
        Result most = get(base + "?address=0x100000000&size=" + hex((1L << 16) * P)).expect(200);
        assertThat(most.text().length()).isLessThan(6 << 20);
        assertThat(most.text()).startsWith("{\"address\":\"0x100000000\",\"size\":\"0x40000000\","
                + "\"pageSize\":16384,\"dispositions\":[0,0,").endsWith("\"dirty\":false,\"shared\":false}]}");
        get("/tasks/" + newId("none") + "/pages?address=0&size=1").problem(404, KernReturn.MACH_SEND_INVALID_DEST);
        send("DELETE", "/tasks/" + newId("none") + "/pages/dirty", null, null)
                .problem(404, KernReturn.MACH_SEND_INVALID_DEST);
        terminate(task);
    }
}
