package io.machvm.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The 228 trials of XNU's {@code tests/vm/vm_allocation.c} (vectors/README.md), each on a fresh arm64 task in the xnu
 * error model, through HTTP: the answer's {@code kern} must be the one XNU's test asserts. Trials that expect
 * MACH_SEND_INVALID_MEMORY (a bad buffer in the caller's own task) have no HTTP equivalent and are skipped.
 */
class XnuVectorsOverHttpTest extends ApiTestSupport {
    private static final String VECTORS = "/vectors/xnu_vm_allocation_tests.json";

    static Stream<Arguments> trials() throws IOException {
        try (InputStream in = XnuVectorsOverHttpTest.class.getResourceAsStream(VECTORS)) {
            assertThat(in).as("the XNU vectors in src/test/resources/vectors")
                    .isNotNull();
            JsonNode all = JsonMapper.builder().build().readTree(in);
            List<Arguments> out = new ArrayList<>();
            for (JsonNode trial : all) {
                out.add(Arguments.of(trial.get("id").asString() + " " + trial.get("call").asString() + " "
                        + trial.get("args") + " -> " + trial.get("expect").asString(), trial));
            }
            return out.stream();
        }
    }

    @Test
    void thereAre228Trials() throws IOException {
        assertThat(trials().count()).isEqualTo(228);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("trials")
    void trial(String name, JsonNode trial) {
        String expect = trial.get("expect").asString();
        Assumptions.assumeFalse(expect.equals("MACH_SEND_INVALID_MEMORY"), "no HTTP equivalent");
        Http http = new Http(port);
        JsonNode args = trial.get("args");
        boolean noTask = "MACH_PORT_NULL".equals(text(args, "target_task", ""));
        String task = noTask ? "no-such-task-" + trial.get("id").asString()
                : "xnu-" + trial.get("id").asString() + "-" + System.nanoTime();
        if (!noTask) {
            http.json("PUT", "/tasks/" + task, "{\"flavor\":\"arm64\",\"errors\":\"xnu\"}").expect(201);
        }
        try {
            if (!noTask) {
                for (JsonNode region : trial.get("setup").get("regions")) {
                    setUp(http, task, region);
                }
            }
            Http.Result response = invoke(http, task, trial.get("call").asString(), args);
            if (expect.equals("KERN_SUCCESS")) {
                assertThat(response.status()).as(name + ": " + response.text()).isBetween(200, 299);
                JsonNode out = trial.get("expect_address_out");
                if (out != null) {
                    String address = response.json().get("address").asString();
                    // "page-aligned, searched from the bottom of the map (hint ignored)": the map minimum
                    assertThat(address).isEqualTo(out.asString().startsWith("0x") ? out.asString() : "0x100000000");
                }
            } else {
                assertThat(response.contentType()).startsWith("application/problem+json");
                JsonNode problem = response.json();
                assertThat(problem.get("kern").asString()).as(name + ": " + response.text()).isEqualTo(expect);
                assertThat(problem.get("kernReturn").asInt()).isEqualTo(trial.get("expect_code").asInt());
            }
        } finally {
            if (!noTask) {
                http.send("DELETE", "/tasks/" + task, null, null).expect(204);
            }
        }
    }

    private static void setUp(Http http, String task, JsonNode region) {
        String start = region.get("start").asString();
        String size = region.get("size").asString();
        http.json("POST", "/tasks/" + task + "/allocate", "{\"address\":\"" + start + "\",\"size\":\"" + size + "\"}")
                .expect(201);
        String max = region.get("max_prot").asString();
        if (!max.equals("rwx")) {
            http.json("POST", "/tasks/" + task + "/protect", "{\"address\":\"" + start + "\",\"size\":\"" + size
                    + "\",\"setMaximum\":true,\"protection\":\"" + max + "\"}").expect(204);
        }
        String prot = region.get("prot").asString();
        if (!prot.equals("rw-")) {
            http.json("POST", "/tasks/" + task + "/protect", "{\"address\":\"" + start + "\",\"size\":\"" + size
                    + "\",\"setMaximum\":false,\"protection\":\"" + prot + "\"}").expect(204);
        }
    }

    private static Http.Result invoke(Http http, String task, String call, JsonNode args) {
        String address = text(args, "address", "0x100000000");
        String size = text(args, "size", "0x4000");
        String base = "/tasks/" + task;
        return switch (call) {
            case "vm_read" -> http.send("GET", base + "/memory/" + address + "?size=" + size, null, null);
            case "vm_write" -> http.send("PUT", base + "/memory/" + address, "application/octet-stream",
                    new byte[Long.decode(text(args, "data_count", "0x10")).intValue()]);
            case "vm_copy" -> http.json("POST", base + "/copy", "{\"sourceAddress\":\""
                    + text(args, "source_address", "0x100000000") + "\",\"size\":\"" + size + "\",\"destAddress\":\""
                    + text(args, "dest_address", "0x100004000") + "\"}");
            case "vm_protect" -> http.json("POST", base + "/protect", "{\"address\":\"" + address + "\",\"size\":\""
                    + size + "\",\"setMaximum\":" + args.path("set_maximum").asBoolean(false) + ",\"protection\":\""
                    + text(args, "new_protection", "0x1") + "\"}");
            case "vm_deallocate" -> http.json("POST", base + "/deallocate", "{\"address\":\"" + address
                    + "\",\"size\":\"" + size + "\"}");
            case "vm_allocate" -> http.json("POST", base + "/allocate", "{\"address\":\"" + address + "\",\"size\":\""
                    + size + "\",\"flags\":\"" + text(args, "flags", "0x1") + "\"}");
            default -> throw new IllegalArgumentException("no HTTP call for " + call);
        };
    }

    private static String text(JsonNode args, String field, String fallback) {
        JsonNode value = args.get(field);
        return value == null || value.isNull() ? fallback : value.asString();
    }
}
