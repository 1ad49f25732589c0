package io.machvm.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.vm.KernReturn;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.JsonNode;

/** SEMANTICS.md's edge cases, reached through HTTP (with the lean {@link Http} client: many small requests). */
class SemanticsOverHttpTest extends ApiTestSupport {
    Http http;

    @BeforeEach
    void client() {
        http = new Http(port);
    }

    private String task(String flavor, String errors) {
        String id = "semantics-" + System.nanoTime();
        http.json("PUT", "/tasks/" + id, "{" + (flavor == null ? "" : "\"flavor\":\"" + flavor + "\"")
                + (flavor != null && errors != null ? "," : "") + (errors == null ? "" : "\"errors\":\"" + errors + "\"")
                + "}").expect(201);
        return id;
    }

    private void end(String task) {
        http.send("DELETE", "/tasks/" + task, null, null).expect(204);
    }

    private Http.Result post(String task, String op, String json) {
        return http.json("POST", "/tasks/" + task + "/" + op, json);
    }

    private void alloc(String task, long address, long size) {
        post(task, "allocate", "{\"address\":\"" + hex(address) + "\",\"size\":\"" + hex(size) + "\"}").expect(201);
    }

    private void prot(String task, long address, long size, boolean setMaximum, String protection) {
        post(task, "protect", "{\"address\":\"" + hex(address) + "\",\"size\":\"" + hex(size) + "\",\"setMaximum\":"
                + setMaximum + ",\"protection\":\"" + protection + "\"}").expect(204);
    }

    private Http.Result put(String task, long address, byte[] data) {
        return http.send("PUT", "/tasks/" + task + "/memory/" + hex(address), "application/octet-stream", data);
    }

    private Http.Result get(String task, long address, long size) {
        return http.send("GET", "/tasks/" + task + "/memory/" + hex(address) + "?size=" + hex(size), null, null);
    }

    private byte[] bytes(String task, long address, long size) {
        return get(task, address, size).expect(200).body();
    }

    private List<String> regions(String task, String field) {
        List<String> out = new ArrayList<>();
        for (JsonNode r : http.send("GET", "/tasks/" + task + "/regions", null, null).expect(200).json()) {
            out.add(r.get(field).asString());
        }
        return out;
    }

    @ParameterizedTest(name = "size 0 at {0}")
    @ValueSource(strings = {"0x0", "0x1", "0x3fff", "0xffffffffffffffff", "0x7ffffe000000", "0x100000000"})
    void sizeZeroSucceedsWithoutLookingAtTheAddress(String garbage) {
        String task = task(null, null);
        Http.Result read = http.send("GET", "/tasks/" + task + "/memory/" + garbage + "?size=0", null, null).expect(200);
        assertThat(read.body()).isEmpty();
        http.send("PUT", "/tasks/" + task + "/memory/" + garbage, "application/octet-stream", new byte[0]).expect(204);
        http.json("PUT", "/tasks/" + task + "/memory/" + garbage, "{\"data\":\"\"}").expect(204);
        post(task, "copy", "{\"sourceAddress\":\"" + garbage + "\",\"size\":0,\"destAddress\":\"" + garbage + "\"}")
                .expect(204);
        assertThat(post(task, "read-overwrite", "{\"address\":\"" + garbage + "\",\"size\":0,\"destAddress\":\""
                + garbage + "\"}").expect(200).json().get("outsize").asString()).isEqualTo("0x0");
        post(task, "deallocate", "{\"address\":\"" + garbage + "\",\"size\":0}").expect(204);
        post(task, "protect", "{\"address\":\"" + garbage + "\",\"size\":0,\"protection\":\"0xff\"}").expect(204);
        post(task, "inherit", "{\"address\":\"" + garbage + "\",\"size\":0,\"inheritance\":\"none\"}").expect(204);
        assertThat(post(task, "allocate", "{\"address\":\"" + garbage + "\",\"size\":0}").expect(201).json()
                .get("address").asString()).isEqualTo("0x0");
        end(task);
    }

    @Test
    void wrappedRanges() {
        String task = task(null, null);
        String top = "0xffffffffffffc000";
        assertThat(get(task, 0xffff_ffff_ffff_fff0L, 0x20).problem(404, KernReturn.KERN_INVALID_ADDRESS))
                .contains("wraps");
        post(task, "deallocate", "{\"address\":\"" + top + "\",\"size\":\"0x8000\"}")
                .problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        post(task, "protect", "{\"address\":\"" + top + "\",\"size\":\"0x8000\",\"protection\":1}")
                .problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        // rounded end wraps to 0 with trunc(address) == 0: KERN_INVALID_ADDRESS
        post(task, "protect", "{\"address\":\"0x1\",\"size\":\"0xfffffffffffffffe\",\"protection\":1}")
                .problem(404, KernReturn.KERN_INVALID_ADDRESS);
        post(task, "copy", "{\"sourceAddress\":\"" + top + "\",\"size\":\"0x8000\",\"destAddress\":\"0x100000000\"}")
                .problem(404, KernReturn.KERN_INVALID_ADDRESS);
        post(task, "allocate", "{\"address\":\"" + top + "\",\"size\":\"0x8000\"}")
                .problem(404, KernReturn.KERN_INVALID_ADDRESS);
        post(task, "allocate", "{\"address\":\"0x4000\",\"size\":\"0xffffffffffffffff\"}")
                .problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        post(task, "allocate", "{\"anywhere\":true,\"size\":\"0xffffffffffffffff\"}")
                .problem(400, KernReturn.KERN_INVALID_ARGUMENT);
        end(task);
    }

    @Test
    void holesAndUnmappedRanges() {
        String task = task(null, null);
        alloc(task, MIN, 0x4000);
        alloc(task, MIN + 0x8000, 0x4000); // hole at +0x4000
        assertThat(get(task, MIN, 0xc000).problem(404, KernReturn.KERN_INVALID_ADDRESS)).contains("0x100004000");
        put(task, MIN + 0x3ff0, new byte[0x20]).problem(404, KernReturn.KERN_INVALID_ADDRESS);
        post(task, "protect", "{\"address\":\"0x100000000\",\"size\":\"0xc000\",\"protection\":\"r--\"}")
                .problem(404, KernReturn.KERN_INVALID_ADDRESS);
        assertThat(regions(task, "protection")).containsExactly("rw-", "rw-"); // the failed protect changed nothing
        get(task, 0x4000, 1).problem(404, KernReturn.KERN_INVALID_ADDRESS); // below map min
        // deallocate over holes is fine; twice too; a range below the map removes nothing
        post(task, "deallocate", "{\"address\":\"0x100000000\",\"size\":\"0xc000\"}").expect(204);
        post(task, "deallocate", "{\"address\":\"0x100000000\",\"size\":\"0xc000\"}").expect(204);
        post(task, "deallocate", "{\"address\":\"0x0\",\"size\":\"0x200000000\"}").expect(204);
        assertThat(regions(task, "address")).isEmpty();
        // reallocating gives zero-filled memory again
        alloc(task, MIN, 0x4000);
        put(task, MIN, new byte[] {9, 9}).expect(204);
        post(task, "deallocate", "{\"address\":\"0x100000000\",\"size\":\"0x4000\"}").expect(204);
        alloc(task, MIN, 0x4000);
        assertThat(bytes(task, MIN, 2)).containsOnly(0);
        end(task);
    }

    @Test
    void protectionsInTheDocumentedModel() {
        String task = task(null, "documented");
        alloc(task, MIN, 0x10000);
        prot(task, MIN, 0x4000, false, "r--");
        prot(task, MIN + 0x4000, 0x4000, false, "-w-");
        prot(task, MIN + 0x8000, 0x4000, false, "---");
        assertThat(put(task, MIN + 1, new byte[] {1}).problem(403, KernReturn.KERN_PROTECTION_FAILURE))
                .contains("not writable");
        put(task, MIN + 0x4001, new byte[] {1}).expect(204); // write-only is writable
        get(task, MIN + 0x4000, 1).problem(403, KernReturn.KERN_PROTECTION_FAILURE);
        get(task, MIN + 0x8000, 1).problem(403, KernReturn.KERN_PROTECTION_FAILURE);
        bytes(task, MIN, 0x10); // readable
        // the first problem in address order wins: unreadable before unmapped
        get(task, MIN + 0x8000, 0x10000).problem(403, KernReturn.KERN_PROTECTION_FAILURE);
        // source problems before destination problems
        post(task, "copy", "{\"sourceAddress\":\"0x100008000\",\"size\":1,\"destAddress\":\"0x900000000\"}")
                .problem(403, KernReturn.KERN_PROTECTION_FAILURE);
        end(task);
    }

    @Test
    void protectionsInTheXnuModelDependOnTheTransferSize() {
        String task = task("arm64", "xnu");
        alloc(task, MIN, 0x20000);
        prot(task, MIN, 0x20000, false, "r--");
        // <= S (32 KiB): the kernel-buffer path answers KERN_INVALID_ADDRESS; > S: KERN_PROTECTION_FAILURE
        put(task, MIN, new byte[0x8000]).problem(404, KernReturn.KERN_INVALID_ADDRESS);
        put(task, MIN, new byte[0x8001]).problem(403, KernReturn.KERN_PROTECTION_FAILURE);
        prot(task, MIN, 0x20000, false, "---");
        get(task, MIN, 0x8000).problem(404, KernReturn.KERN_INVALID_ADDRESS);
        get(task, MIN, 0x8001).problem(403, KernReturn.KERN_PROTECTION_FAILURE);
        // copy: the source size decides
        post(task, "copy", "{\"sourceAddress\":\"0x100000000\",\"size\":\"0x8000\",\"destAddress\":\"0x100010000\"}")
                .problem(404, KernReturn.KERN_INVALID_ADDRESS);
        end(task);
    }

    @Test
    void maximumProtectionAndWriteExecute() {
        String arm = task("arm64", null);
        alloc(arm, MIN, 0x4000);
        assertThat(post(arm, "protect", "{\"address\":\"0x100000000\",\"size\":\"0x4000\",\"protection\":\"rwx\"}")
                .problem(403, KernReturn.KERN_PROTECTION_FAILURE)).contains("W^X");
        prot(arm, MIN, 0x4000, true, "r--");
        assertThat(regions(arm, "protection")).containsExactly("r--");
        assertThat(regions(arm, "maxProtection")).containsExactly("r--");
        post(arm, "protect", "{\"address\":\"0x100000000\",\"size\":\"0x4000\",\"protection\":\"rw-\"}")
                .problem(403, KernReturn.KERN_PROTECTION_FAILURE);
        end(arm);

        String x86 = task("x86_64", null);
        alloc(x86, MIN, 0x1000);
        prot(x86, MIN, 0x1000, false, "rwx"); // W+X allowed
        prot(x86, MIN, 0x1000, true, "r--");
        prot(x86, MIN, 0x1000, true, "r-x"); // no code signing: max may gain execute
        assertThat(regions(x86, "maxProtection")).containsExactly("r-x");
        assertThat(regions(x86, "size")).containsExactly("0x1000");
        end(x86);
    }

    @Test
    void unalignedWritesLeaveNeighboursAlone() {
        String task = task("x86_64", null);
        alloc(task, MIN, 0x3000);
        byte[] ones = new byte[0x3000];
        Arrays.fill(ones, (byte) 1);
        put(task, MIN, ones).expect(204);
        byte[] data = pattern(0x1001, 2);
        put(task, MIN + 0xfff, data).expect(204);
        byte[] all = bytes(task, MIN, 0x3000);
        assertThat(all[0xffe]).isEqualTo((byte) 1);
        assertThat(Arrays.copyOfRange(all, 0xfff, 0x2000)).isEqualTo(data);
        assertThat(all[0x2000]).isEqualTo((byte) 1);
        end(task);
    }

    @Test
    void overlappingCopyIsAMemmoveAndCopiesAreIndependent() {
        String task = task(null, null);
        alloc(task, MIN, 0x10000);
        byte[] data = pattern(0x6000, 7);
        put(task, MIN, data).expect(204);
        post(task, "copy", "{\"sourceAddress\":\"0x100000000\",\"size\":\"0x6000\",\"destAddress\":\"0x100001001\"}")
                .expect(204);
        assertThat(bytes(task, MIN + 0x1001, 0x6000)).isEqualTo(data);
        post(task, "copy", "{\"sourceAddress\":\"0x100001001\",\"size\":\"0x6000\",\"destAddress\":\"0x100001001\"}")
                .expect(204);
        // a whole-page copy, then writing the source does not show in the destination, nor the reverse
        post(task, "copy", "{\"sourceAddress\":\"0x100000000\",\"size\":\"0x4000\",\"destAddress\":\"0x10000c000\"}")
                .expect(204);
        byte[] before = bytes(task, MIN + 0xc000, 0x4000);
        put(task, MIN, new byte[] {42}).expect(204);
        assertThat(bytes(task, MIN + 0xc000, 0x4000)).isEqualTo(before);
        put(task, MIN + 0xc000, new byte[] {43}).expect(204);
        assertThat(bytes(task, MIN, 1)).containsExactly(42);
        end(task);
    }

    @Test
    void vmReadSizeLimitIsCheckedFirst() {
        String task = task(null, null);
        assertThat(get(task, 0x4000, 0x1_0000_0000L).problem(400, KernReturn.KERN_INVALID_ARGUMENT))
                .contains("0xffffffff");
        end(task);
    }

    @Test
    void readOverwriteAcrossTasksAndFlavors() {
        String arm = task("arm64", null);
        String x86 = task("x86_64", null);
        alloc(arm, MIN, 0x4000);
        alloc(x86, MIN, 0x1000);
        put(arm, MIN, pattern(0x1000, 11)).expect(204);
        assertThat(post(arm, "read-overwrite", "{\"address\":\"0x100000000\",\"size\":\"0x1000\",\"destTask\":\"" + x86
                + "\",\"destAddress\":\"0x100000000\"}").expect(200).json().get("outsize").asString())
                .isEqualTo("0x1000");
        assertThat(bytes(x86, MIN, 0x1000)).isEqualTo(pattern(0x1000, 11));
        // the destination is checked after the source: unmapped past 0x100001000 in the x86_64 task
        assertThat(post(arm, "read-overwrite", "{\"address\":\"0x100000000\",\"size\":\"0x2000\",\"destTask\":\"" + x86
                + "\",\"destAddress\":\"0x100000000\"}").problem(404, KernReturn.KERN_INVALID_ADDRESS))
                .contains("destination");
        end(arm);
        end(x86);
    }

    @Test
    void regionsSplitAndWalk() {
        String task = task("x86_64", null);
        alloc(task, MIN, 0x4000);
        prot(task, MIN, 0x1000, false, "r--");
        prot(task, MIN + 0x1000, 0x1000, false, "r-x");
        assertThat(regions(task, "address")).containsExactly("0x100000000", "0x100001000", "0x100002000");
        assertThat(regions(task, "size")).containsExactly("0x1000", "0x1000", "0x2000");
        assertThat(regions(task, "protection")).containsExactly("r--", "r-x", "rw-");
        assertThat(http.send("GET", "/tasks/" + task, null, null).expect(200).json().get("regionCount").asInt())
                .isEqualTo(3);
        end(task);
    }

    @Test
    void protectAndInheritInTheMiddleOfAnEntry() {
        String task = task(null, null);
        alloc(task, MIN, 0xc000);
        prot(task, MIN + 0x4000, 0x4000, false, "r--");
        post(task, "inherit", "{\"address\":\"0x100006000\",\"size\":\"0x1000\",\"inheritance\":\"none\"}")
                .expect(204);
        assertThat(regions(task, "protection")).containsExactly("rw-", "r--", "rw-");
        assertThat(regions(task, "inheritance")).containsExactly("copy", "none", "copy");
        end(task);
    }

    @Test
    void unknownAndTerminatedTasksAreDeadPorts() {
        String task = task(null, null);
        end(task);
        for (String op : new String[] {"allocate", "deallocate", "protect", "inherit", "copy", "read-overwrite"}) {
            post(task, op, "{\"address\":1,\"size\":0,\"sourceAddress\":1,\"destAddress\":1,\"protection\":1,"
                    + "\"inheritance\":1,\"anywhere\":true}").problem(404, KernReturn.MACH_SEND_INVALID_DEST);
        }
        get(task, MIN, 0).problem(404, KernReturn.MACH_SEND_INVALID_DEST);
        put(task, MIN, new byte[0]).problem(404, KernReturn.MACH_SEND_INVALID_DEST);
        http.send("GET", "/tasks/" + task + "/regions/0x0", null, null).problem(404, KernReturn.MACH_SEND_INVALID_DEST);
        http.send("GET", "/tasks/never-created/regions", null, null).problem(404, KernReturn.MACH_SEND_INVALID_DEST);
    }
}
