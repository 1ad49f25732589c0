package io.machvm.reliability;

import io.machvm.vm.MapInspection;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machvm.service.TaskSpec;
import io.machvm.vm.KernException;
import io.machvm.vm.KernReturn;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import tools.jackson.databind.JsonNode;

/**
 * Exposure: only the documented actuator endpoints are reachable; request size limits hold (control bodies, write and
 * read transfers, headers, URIs); and ids and addresses of one task never reach another task's pages, whatever the
 * path or {@code destTask} tricks.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ExposureTest extends SmallStoreTestBase {
    private static final long P = ARM_PAGE;

    // ---------------------------------------------------------------- actuator

    @Test
    void onlyTheDocumentedActuatorEndpointsAreReachable() {
        for (String path : List.of("/actuator/health", "/actuator/health/liveness", "/actuator/health/readiness",
                "/actuator/info", "/actuator/prometheus")) {
            assertThat(http.get(path).status()).as(path).isEqualTo(200);
        }
        JsonNode links = http.get("/actuator").expect(200).json().path("_links");
        List<String> names = new ArrayList<>();
        links.propertyNames().forEach(names::add);
        assertThat(names).as("the actuator index lists only the documented endpoints")
                .containsExactlyInAnyOrder("self", "health", "health-path", "info", "prometheus");
        for (String endpoint : List.of("env", "beans", "configprops", "heapdump", "threaddump", "loggers", "metrics",
                "mappings", "shutdown", "scheduledtasks", "conditions", "caches", "startup", "sbom", "httpexchanges",
                "auditevents", "sessions", "logfile", "integrationgraph", "quartz", "flyway", "liquibase",
                "jolokia", "env/java.home", "loggers/ROOT", "metrics/jvm.memory.used", "health/../env")) {
            for (String method : List.of("GET", "POST")) {
                Client.Result r = http.send(method, "/actuator/" + endpoint, method.equals("POST") ? new byte[0] : null,
                        "Content-Type", "application/json");
                assertThat(r.status()).as(method + " /actuator/" + endpoint + ": " + r.text())
                        .isIn(endpoint.contains("..") ? List.of(400) : List.of(404, 405));
                assertThat(r.kern(false)).isEqualTo("KERN_INVALID_ARGUMENT");
            }
        }
    }

    // ---------------------------------------------------------------- size limits

    @Test
    void requestSizeLimitsAreEnforced() throws IOException {
        String t = task("xp-limits");
        allocate(t, MIN, 4 * MAX_TRANSFER);
        // A control body over 64 KB: refused from Content-Length, and counted when chunked.
        String big = "{\"address\":\"0x100000000\",\"size\":\"0x4000\",\"pad\":\"" + "x".repeat(70_000) + "\"}";
        call(t, "allocate", big).expectProblem(413, "KERN_INVALID_ARGUMENT");
        assertThat(answer(RawHttp.concat(RawHttp.head("POST", "/tasks/" + t + "/allocate",
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"),
                RawHttp.chunked(big.getBytes(StandardCharsets.US_ASCII), 4096))).status()).isEqualTo(413);
        // A write over the transfer limit: refused from its Content-Length before a byte of the body is read…
        RawHttp.Response early = answer(RawHttp.head("PUT", "/tasks/" + t + "/memory/" + hex(MIN),
                "Content-Type: application/octet-stream\r\nContent-Length: " + (MAX_TRANSFER + 1) + "\r\n"));
        assertThat(Answers.check("write over the limit", early.status(), early.contentType(), early.body(), false,
                false)).isEqualTo("KERN_INVALID_ARGUMENT");
        assertThat(early.status()).isEqualTo(413);
        // …and when chunked, once the limit is passed; in JSON too.
        assertThat(answer(RawHttp.concat(RawHttp.head("PUT", "/tasks/" + t + "/memory/" + hex(MIN),
                "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"),
                RawHttp.chunked(new byte[(int) MAX_TRANSFER + 1], 65536))).status()).isEqualTo(413);
        http.send("PUT", "/tasks/" + t + "/memory/" + hex(MIN), ("{\"data\":\""
                + java.util.Base64.getEncoder().encodeToString(new byte[(int) MAX_TRANSFER + 3]) + "\"}")
                .getBytes(StandardCharsets.US_ASCII), "Content-Type", "application/json")
                .expectProblem(413, "KERN_INVALID_ARGUMENT");
        assertThat(statistics().path("residentPages").asLong()).as("refused writes hold no page").isZero();
        // A read over the transfer limit, and over vm_read's own 32-bit limit.
        http.get("/tasks/" + t + "/memory/" + hex(MIN) + "?size=" + hex(MAX_TRANSFER + 1))
                .expectProblem(413, "KERN_INVALID_ARGUMENT");
        http.get("/tasks/" + t + "/memory/" + hex(MIN) + "?size=0x100000000")
                .expectProblem(400, "KERN_INVALID_ARGUMENT");
        // Oversized headers and request lines.
        RawHttp.Response header = answer(RawHttp.head("GET", "/tasks", "X-Big: " + "x".repeat(20_000)
                + "\r\nConnection: close\r\n"));
        Answers.check("a 20 KB header", header.status(), header.contentType(), header.body(), false, false);
        assertThat(header.status()).isIn(400, 431);
        RawHttp.Response uri = answer(RawHttp.head("GET", "/tasks/" + "a".repeat(20_000), "Connection: close\r\n"));
        Answers.check("a 20 KB URI", uri.status(), uri.contentType(), uri.body(), false, false);
        assertThat(uri.status()).isIn(400, 414);
        // The server is still fine.
        write(t, MIN, pattern(100, 1)).expect(204);
    }

    private RawHttp.Response answer(byte[] request) throws IOException {
        try (RawHttp raw = new RawHttp(port)) {
            try {
                raw.send(request);
            } catch (java.net.SocketException refusedEarly) {
                // the server answered and closed before taking the rest
            }
            RawHttp.Response r = raw.read(false);
            assertThat(r).as("an answer").isNotNull();
            return r;
        }
    }

    // ---------------------------------------------------------------- isolation between tasks

    @Test
    void addressesAndIdsOfOneTaskNeverReachAnotherTasksPages() throws IOException {
        String a = task("xp-a");
        String b = task("xp-b");
        long secretAt = MIN + 64 * P;
        byte[] secret = "the secret of task A, never to be seen by B".getBytes(StandardCharsets.US_ASCII);
        allocate(a, secretAt, 4 * P);
        write(a, secretAt, secret).expect(204);
        allocate(b, MIN, 4 * P);
        byte[] own = pattern(64, 9);
        write(b, MIN, own).expect(204);
        State aBefore = state(a);

        // A's addresses used on B: unmapped there.
        http.get("/tasks/" + b + "/memory/" + hex(secretAt) + "?size=" + secret.length)
                .expectProblem(404, "KERN_INVALID_ADDRESS");
        http.get("/tasks/" + b + "/regions/" + hex(secretAt)).expectProblem(404, "KERN_INVALID_ADDRESS");
        call(b, "copy", "{\"sourceAddress\":\"" + hex(secretAt) + "\",\"size\":\"0x40\",\"destAddress\":\"" + hex(MIN)
                + "\"}").expectProblem(404, "KERN_INVALID_ADDRESS");
        call(b, "read-overwrite", "{\"address\":\"" + hex(secretAt) + "\",\"size\":\"0x40\",\"destAddress\":\""
                + hex(MIN) + "\"}").expectProblem(404, "KERN_INVALID_ADDRESS");
        // Mapped at the same address in B, it is B's own (zero-filled) memory.
        allocate(b, secretAt, 4 * P);
        assertThat(read(b, secretAt, secret.length)).containsOnly(0);
        call(b, "copy", "{\"sourceAddress\":\"" + hex(secretAt) + "\",\"size\":\"0x40\",\"destAddress\":\""
                + hex(MIN + P) + "\"}").expect(204);
        assertThat(read(b, MIN + P, 64)).containsOnly(0);
        assertThat(read(b, MIN, 64)).isEqualTo(own);

        // destTask tricks: B copying "from A" still reads B; names that are not A's id never reach A.
        for (String trick : List.of("../" + a, a + "/../" + a, b + "/../" + a, "..%2F" + a, a + "%2F", a + "\u0000",
                " " + a, a.toUpperCase(), a + "/", "./" + a, "*", "", "..", ".", "/tasks/" + a)) {
            Client.Result r = call(b, "read-overwrite", "{\"address\":\"" + hex(MIN) + "\",\"size\":\"0x40\","
                    + "\"destTask\":" + Answers.JSON.writeValueAsString(trick) + ",\"destAddress\":\"" + hex(secretAt)
                    + "\"}");
            assertThat(r.status()).as("destTask " + Answers.show(trick) + ": " + r.text()).isIn(400, 404);
            r.kern(false);
        }
        for (String wrongType : List.of("5", "[\"" + a + "\"]", "{\"id\":\"" + a + "\"}", "true")) {
            call(b, "read-overwrite", "{\"address\":\"" + hex(MIN) + "\",\"size\":\"0x40\",\"destTask\":" + wrongType
                    + ",\"destAddress\":\"" + hex(secretAt) + "\"}").expectProblem(400, "KERN_INVALID_ARGUMENT");
        }
        state(a).assertSameAs(aBefore, "task A after B's tricks");

        // Ids with traversal: refused, or resolved by the URL's own dot-segment rules (RFC 3986) to a plain task path,
        // never to a task whose id contains them.
        for (String path : List.of("/tasks/" + b + "%2F..%2F" + a + "/memory/" + hex(secretAt) + "?size=8",
                "/tasks/..%2F" + a + "/memory/" + hex(secretAt) + "?size=8",
                "/tasks/" + b + "%2f..%2f" + a + "/regions", "/tasks/%2e%2e%2f" + a + "/regions",
                "/tasks/" + b + "%5C..%5C" + a + "/regions", "/tasks/" + b + ";x=/../" + a + "/regions",
                "/tasks/" + b + "/..;/" + a + "/regions", "/tasks/%252e%252e/" + a + "/regions",
                "/tasks/" + b + "/%2e%2e/" + a + "/memory/" + hex(secretAt) + "?size=8")) {
            RawHttp.Response r = answer(("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            Answers.check("GET " + path, r.status(), r.contentType(), r.body(), false, false);
            assertThat(new String(r.body(), StandardCharsets.ISO_8859_1)).as(path).doesNotContain("secret");
        }
        // The literal dot-segment form is the URL of A itself, as every client resolves it.
        RawHttp.Response dotted = answer(("GET /tasks/" + b + "/../" + a + "/memory/" + hex(secretAt) + "?size="
                + secret.length + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.ISO_8859_1));
        assertThat(dotted.status()).isIn(200, 400, 404);
        if (dotted.status() == 200) {
            assertThat(dotted.body()).isEqualTo(secret);
        }

        // No task can be created whose id is a dot segment or contains a separator.
        for (String path : List.of("/tasks/..", "/tasks/.", "/tasks/%2e%2e", "/tasks/%2E", "/tasks/..;x=1",
                "/tasks/.%2e", "/tasks/a%2Fb", "/tasks/a%5Cb", "/tasks/a%00b", "/tasks/" + "x".repeat(65))) {
            RawHttp.Response r = answer(("PUT " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                    + "Connection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            Answers.check("PUT " + path, r.status(), r.contentType(), r.body(), false, false);
            assertThat(r.status()).as("PUT " + path + ": " + r.text()).isGreaterThanOrEqualTo(400);
        }
        for (String id : List.of(".", "..")) {
            assertThatThrownBy(() -> registry.createWithId(id, TaskSpec.DEFAULTS))
                    .isInstanceOfSatisfying(KernException.class,
                            e -> assertThat(e.kern()).isEqualTo(KernReturn.KERN_INVALID_ARGUMENT));
        }
        List<String> ids = new ArrayList<>();
        http.get("/tasks").expect(200).json().forEach(n -> ids.add(n.path("id").asString()));
        assertThat(ids).containsExactlyInAnyOrder(a, b);

        // Page handles: B holds none of A's pages (they never shared anything).
        int[] aPages = MapInspection.residentHandles(registry.get(a).map());
        int[] bPages = MapInspection.residentHandles(registry.get(b).map());
        assertThat(Arrays.stream(bPages).filter(h -> Arrays.stream(aPages).anyMatch(x -> x == h))).isEmpty();
        state(a).assertSameAs(aBefore, "task A at the end");
    }
}
