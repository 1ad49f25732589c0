package io.machvm.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.vm.KernReturn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Each wire form of u64s, protections, inheritances and flags, in bodies, path segments and the query. Many small
 * requests: they go through the lean {@link Http} client.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NumberFormsTest extends ApiTestSupport {
    Http http;
    String task;
    String base;

    @BeforeAll
    void createTask() {
        http = new Http(port);
        task = "number-forms-" + System.nanoTime();
        base = "/tasks/" + task;
        http.send("PUT", base, null, null).expect(201);
    }

    /** Every test starts from an empty map, whatever an earlier one left. */
    @BeforeEach
    void emptyTheMap() {
        post("deallocate", "{\"address\":\"0x100000000\",\"size\":\"0x7ffefe000000\"}").expect(204);
    }

    @AfterAll
    void terminateTask() {
        http.send("DELETE", base, null, null).expect(204);
    }

    private Http.Result post(String op, String json) {
        return http.json("POST", base + "/" + op, json);
    }

    private void allocateFirstPage() {
        post("allocate", "{\"address\":\"0x100000000\",\"size\":\"0x4000\"}").expect(201);
    }

    private String region(String address, String field) {
        return http.send("GET", base + "/regions/" + address, null, null).expect(200).json().get(field).asString();
    }

    /** Address forms, seen through vm_allocate FIXED echoing the page it mapped. */
    @ParameterizedTest(name = "address {0}")
    @ValueSource(strings = {"8589934592", "\"8589934592\"", "\"0x200000000\"", "\"0X200000000\"", "\"0x0200000000\"",
        "\"0x200000ABC\"", "\"0x200000abc\"", "\"000008589934592\""})
    void addressForms(String address) {
        assertThat(post("allocate", "{\"address\":" + address + ",\"size\":\"0x4000\"}").expect(201).json()
                .get("address").asString()).isEqualTo("0x200000000");
    }

    @ParameterizedTest(name = "size {0}")
    @ValueSource(strings = {"16384", "\"16384\"", "\"0x4000\"", "\"0X4000\"", "\"0x00004000\""})
    void sizeForms(String size) {
        assertThat(post("allocate", "{\"anywhere\":true,\"size\":" + size + "}").expect(201).json().get("size")
                .asString()).isEqualTo("0x4000");
    }

    /** The top of the range, as a JSON integer above 2^63 and as strings, reaches Mach exactly. */
    @ParameterizedTest(name = "2^64-1 as {0}")
    @ValueSource(strings = {"18446744073709551615", "\"18446744073709551615\"", "\"0xffffffffffffffff\"",
        "\"0xFFFFFFFFFFFFFFFF\"", "\"0x0000ffffffffffffffff\""})
    void maxU64Forms(String max) {
        // vm_copy of 2^64-1 bytes wraps: KERN_INVALID_ADDRESS naming the exact size
        assertThat(post("copy", "{\"sourceAddress\":\"0x100000000\",\"size\":" + max + ",\"destAddress\":0}")
                .problem(404, KernReturn.KERN_INVALID_ADDRESS)).contains("0xffffffffffffffff");
        // deallocate at 2^64-1: the end wraps
        assertThat(post("deallocate", "{\"address\":" + max + ",\"size\":1}")
                .problem(400, KernReturn.KERN_INVALID_ARGUMENT)).contains("0xffffffffffffffff");
    }

    @Test
    void jsonIntegersAbove2To63AreExact() {
        // 2^63 + 0x4000 as a JSON integer: a double would round it
        assertThat(post("allocate", "{\"address\":9223372036854792192,\"size\":16384}")
                .problem(404, KernReturn.KERN_INVALID_ADDRESS)).contains("0x8000000000004000");
        assertThat(post("allocate", "{\"address\":18446744073709535232,\"size\":16384}")
                .problem(404, KernReturn.KERN_INVALID_ADDRESS)).contains("0xffffffffffffc000");
    }

    @ParameterizedTest(name = "bad u64 {0}")
    @ValueSource(strings = {"-1", "-0", "18446744073709551616", "99999999999999999999999", "\"18446744073709551616\"",
        "\"0x10000000000000000\"", "1.5", "1.0", "1e3", "1E3", "\"1e3\"", "\"1.5\"", "\"\"", "\" \"", "\" 16\"",
        "\"16 \"", "\"0x\"", "\"0X\"", "\"x10\"", "\"0xg\"", "\"+5\"", "\"-5\"", "\"0b101\"", "\"1_000\"",
        "\"\\uff11\\uff12\"", "\"0x\\uff11\"", "true", "false", "{}", "[]", "[1]", "\"0x-1\"", "\"16\\u0000\""})
    void badU64sAre400NamingTheField(String size) {
        assertThat(post("allocate", "{\"anywhere\":true,\"size\":" + size + "}")
                .problem(400, KernReturn.KERN_INVALID_ARGUMENT)).startsWith("size ");
    }

    @ParameterizedTest(name = "path address {0}")
    @ValueSource(strings = {"0x100000000", "0X100000000", "4294967296", "0x0100000000"})
    void pathAddressForms(String address) {
        allocateFirstPage();
        assertThat(region(address, "address")).isEqualTo("0x100000000");
        assertThat(http.send("GET", base + "/memory/" + address + "?size=4", null, null).expect(200).body())
                .hasSize(4);
        http.send("PUT", base + "/memory/" + address, "application/octet-stream", new byte[] {1}).expect(204);
    }

    @ParameterizedTest(name = "bad path address {0}")
    @ValueSource(strings = {"0x", "-1", "abc", "1e3", "18446744073709551616", "0x10000000000000000", "0x1g", "+1"})
    void badPathAddressesAre400(String address) {
        assertThat(http.send("GET", base + "/regions/" + address, null, null)
                .problem(400, KernReturn.KERN_INVALID_ARGUMENT)).startsWith("address ");
        assertThat(http.send("GET", base + "/memory/" + address + "?size=1", null, null)
                .problem(400, KernReturn.KERN_INVALID_ARGUMENT)).startsWith("address ");
        assertThat(http.send("PUT", base + "/memory/" + address, "application/octet-stream", new byte[1])
                .problem(400, KernReturn.KERN_INVALID_ARGUMENT)).startsWith("address ");
    }

    @ParameterizedTest(name = "size query {0}")
    @ValueSource(strings = {"4", "0x4", "0X4", "0004"})
    void sizeQueryForms(String size) {
        allocateFirstPage();
        assertThat(http.send("GET", base + "/memory/0x100000000?size=" + size, null, null).expect(200).body())
                .hasSize(4);
    }

    @ParameterizedTest(name = "bad size query {0}")
    @ValueSource(strings = {"", "-4", "4.0", "0x", "four", "18446744073709551616"})
    void badSizeQueriesAre400(String size) {
        assertThat(http.send("GET", base + "/memory/0x100000000?size=" + size, null, null)
                .problem(400, KernReturn.KERN_INVALID_ARGUMENT)).startsWith("size ");
    }

    @Test
    void sizeQueryAtTheTopReachesVmRead() {
        assertThat(http.send("GET", base + "/memory/0x100000000?size=0xffffffffffffffff", null, null)
                .problem(400, KernReturn.KERN_INVALID_ARGUMENT)).contains("32-bit");
    }

    @ParameterizedTest(name = "protection {0} is {1}")
    @CsvSource(delimiter = '|', value = {
        "\"r--\"  | r--", "\"rw-\" | rw-", "\"---\" | ---", "\"-w-\" | -w-", "\"r-x\" | r-x", "1 | r--", "3 | rw-",
        "\"0x1\" | r--", "\"0X3\" | rw-", "\"3\" | rw-", "0 | ---", "5 | r-x"})
    void protectionForms(String protection, String shown) {
        allocateFirstPage();
        post("protect", "{\"address\":\"0x100000000\",\"size\":\"0x4000\",\"setMaximum\":false,\"protection\":"
                + protection + "}").expect(204);
        assertThat(region("0x100000000", "protection")).isEqualTo(shown);
    }

    @ParameterizedTest(name = "unknown protection bits {0}")
    @ValueSource(strings = {"\"0x20\"", "32", "\"0x8\"", "\"0xffffffff\"", "4294967295"})
    void unknownProtectionBitsReachVmProtect(String protection) {
        allocateFirstPage();
        assertThat(post("protect", "{\"address\":\"0x100000000\",\"size\":\"0x4000\",\"protection\":" + protection
                + "}").problem(400, KernReturn.KERN_INVALID_ARGUMENT)).contains("0x17");
        // size 0 succeeds whatever the bits
        post("protect", "{\"address\":\"0xdead\",\"size\":0,\"protection\":" + protection + "}").expect(204);
    }

    @Test
    void copyBitIsAccepted() {
        allocateFirstPage();
        post("protect", "{\"address\":\"0x100000000\",\"size\":\"0x4000\",\"setMaximum\":true,\"protection\":\"r--\"}")
                .expect(204);
        // VM_PROT_COPY | READ | WRITE: write becomes allowed in max
        post("protect", "{\"address\":\"0x100000000\",\"size\":\"0x4000\",\"protection\":\"0x13\"}").expect(204);
        assertThat(region("0x100000000", "protection")).isEqualTo("rw-");
    }

    @ParameterizedTest(name = "inheritance {0} is {1}")
    @CsvSource(delimiter = '|', value = {
        "\"share\" | share", "\"copy\" | copy", "\"none\" | none", "0 | share", "1 | copy", "2 | none",
        "\"2\" | none", "\"0x0\" | share"})
    void inheritanceForms(String inheritance, String shown) {
        allocateFirstPage();
        post("inherit", "{\"address\":\"0x100000000\",\"size\":\"0x4000\",\"inheritance\":" + inheritance + "}")
                .expect(204);
        assertThat(region("0x100000000", "inheritance")).isEqualTo(shown);
    }

    @ParameterizedTest(name = "bad inheritance {0}")
    @ValueSource(strings = {"3", "\"3\"", "\"SHARE\"", "\"\"", "-1", "1.0", "true", "\"0x100000000\""})
    void badInheritancesAre400(String inheritance) {
        assertThat(post("inherit", "{\"address\":\"0x100000000\",\"size\":\"0x4000\",\"inheritance\":" + inheritance
                + "}").problem(400, KernReturn.KERN_INVALID_ARGUMENT)).contains("inherit");
    }

    @ParameterizedTest(name = "flags {0}")
    @ValueSource(strings = {"0", "\"0x0\"", "16384", "\"0x4000\"", "\"16384\"", "\"0xff000000\"", "4278190080"})
    void flagForms(String flags) {
        allocateFirstPage();
        // FIXED, with or without OVERWRITE and alias bits: OVERWRITE replaces, otherwise KERN_NO_SPACE
        Http.Result response = post("allocate", "{\"address\":\"0x100000000\",\"size\":\"0x4000\",\"flags\":" + flags
                + "}");
        if (flags.contains("4000") || flags.contains("16384")) {
            response.expect(201);
        } else {
            response.problem(409, KernReturn.KERN_NO_SPACE);
        }
    }

    @ParameterizedTest(name = "refused flags {0}")
    @ValueSource(strings = {"\"0x8000\"", "\"0x20\"", "\"0x00080000\"", "64", "\"0x100\""})
    void flagsOutsideTheMaskAreRefusedByVmAllocate(String flags) {
        assertThat(post("allocate", "{\"address\":\"0x100000000\",\"size\":\"0x4000\",\"flags\":" + flags + "}")
                .problem(400, KernReturn.KERN_INVALID_ARGUMENT)).contains("0xff07509f");
    }
}
