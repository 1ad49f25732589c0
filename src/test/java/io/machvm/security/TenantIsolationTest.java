package io.machvm.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;

/**
 * Tenants over HTTP in api-key mode: for every operation, another tenant's task id gets exactly the answer of an id
 * nobody uses, and the task is unchanged; ids are per tenant; an admin sees every tenant's tasks, qualified
 * {@code tenant~id}, and forks and restores into another tenant by such ids; each tenant's task quota refuses only
 * that tenant.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"machvm.store.capacity=64MB", "machvm.store.slab-size=16MB",
                "machvm.security.mode=api-key",
                "machvm.security.api-keys.acme=" + TenantIsolationTest.ACME,
                "machvm.security.api-keys.beta=" + TenantIsolationTest.BETA,
                "machvm.security.api-keys.small=" + TenantIsolationTest.SMALL,
                "machvm.security.api-keys.ops=" + TenantIsolationTest.OPS,
                "machvm.security.admin-tenants=ops",
                "machvm.quota.max-tasks=50",
                "machvm.quota.tenants.small.max-tasks=2"})
class TenantIsolationTest extends TenantCalls {
    static final String ACME = "acme-key-0123456789abcdef";
    static final String BETA = "beta-key-0123456789abcdef";
    static final String SMALL = "small-key-0123456789abcdef";
    static final String OPS = "ops-key-0123456789abcdef";
    private static final String A = "0x100000000";
    private static final String SECRET = "password=hunter2";
    private static int round;

    private String secret;
    private String mine;

    @BeforeEach
    void tasks() throws IOException {
        round++;
        secret = "secret-" + round;
        mine = "mine-" + round;
        assertThat(json(ACME, "PUT", "/tasks/" + secret, "{}").status()).isEqualTo(201);
        assertThat(json(ACME, "POST", "/tasks/" + secret + "/allocate", "{\"address\":\"" + A + "\",\"size\":\"0x8000\"}")
                .status()).isEqualTo(201);
        assertThat(call(ACME, "PUT", "/tasks/" + secret + "/memory/" + A, "application/octet-stream",
                SECRET.getBytes(StandardCharsets.US_ASCII)).status()).isEqualTo(204);
        assertThat(json(BETA, "PUT", "/tasks/" + mine, "{}").status()).isEqualTo(201);
        assertThat(json(BETA, "POST", "/tasks/" + mine + "/allocate", "{\"address\":\"" + A + "\",\"size\":\"0x8000\"}")
                .status()).isEqualTo(201);
    }

    /** One operation by beta on the task {@code T}, with the bytes it sends. */
    record Op(String method, String path, String contentType, String body) {
        Op(String method, String path) {
            this(method, path, null, null);
        }

        Op(String method, String path, String json) {
            this(method, path, "application/json", json);
        }
    }

    private List<Op> operations() {
        String range = "\"address\":\"" + A + "\",\"size\":\"0x4000\"";
        return List.of(
                new Op("GET", "/tasks/T"),
                new Op("GET", "/tasks/T/memory/" + A + "?size=16"),
                new Op("PUT", "/tasks/T/memory/" + A, "application/octet-stream", "overwritten"),
                new Op("PUT", "/tasks/T/memory/" + A, "{\"data\":\""
                        + Base64.getEncoder().encodeToString("overwritten".getBytes(StandardCharsets.US_ASCII))
                        + "\"}"),
                new Op("POST", "/tasks/T/copy", "{\"sourceAddress\":\"0x100004000\",\"size\":\"0x4000\","
                        + "\"destAddress\":\"" + A + "\"}"),
                new Op("POST", "/tasks/T/allocate", "{\"size\":\"0x4000\",\"anywhere\":true}"),
                new Op("POST", "/tasks/T/deallocate", "{" + range + "}"),
                new Op("POST", "/tasks/T/protect", "{" + range + ",\"setMaximum\":false,\"protection\":\"---\"}"),
                new Op("POST", "/tasks/T/inherit", "{" + range + ",\"inheritance\":\"share\"}"),
                new Op("GET", "/tasks/T/regions/" + A),
                new Op("GET", "/tasks/T/regions"),
                new Op("POST", "/tasks/T/read-overwrite", "{\"address\":\"" + A + "\",\"size\":16,"
                        + "\"destAddress\":\"" + A + "\"}"),
                // from beta's own task into T, and out of T into beta's own task
                new Op("POST", "/tasks/" + mine + "/read-overwrite", "{\"address\":\"" + A + "\",\"size\":16,"
                        + "\"destTask\":\"T\",\"destAddress\":\"" + A + "\"}"),
                new Op("POST", "/tasks", "{\"parent\":\"T\"}"),
                new Op("PUT", "/tasks/fork-of-T", "{\"parent\":\"T\"}"),
                new Op("GET", "/tasks/T/snapshot"),
                new Op("GET", "/tasks/T/pages?address=" + A + "&size=16384"),
                new Op("DELETE", "/tasks/T/pages/dirty"),
                new Op("POST", "/tasks/T/batch", "{\"calls\":[{\"call\":\"vm_read\",\"address\":\"" + A
                        + "\",\"size\":\"16\"}]}"),
                new Op("POST", "/tasks/T/batch", "{\"atomic\":true,\"calls\":[{\"call\":\"vm_write\",\"address\":\""
                        + A + "\",\"data\":\"AAEC\"}]}"),
                new Op("DELETE", "/tasks/T"));
    }

    private Answer run(String key, Op op, String target) throws IOException {
        byte[] body = op.body() == null ? null : op.body().replace("\"T\"", "\"" + target + "\"")
                .getBytes(StandardCharsets.UTF_8);
        Answer a = call(key, op.method(), op.path().replace("/T", "/" + target).replace("fork-of-T",
                "fork-of-" + round), op.contentType(), body);
        return new Answer(a.status(), a.body().replace(target, "T"));
    }

    @Test
    void anotherTenantsTaskIsAnsweredLikeAnUnusedId() throws IOException {
        for (Op op : operations()) {
            Answer unused = run(BETA, op, "nobody-" + round);
            Answer foreign = run(BETA, op, secret);
            assertThat(foreign).as(op.method() + " " + op.path()).isEqualTo(unused);
            assertThat(foreign.status()).as(op.method() + " " + op.path()).isEqualTo(404);
            assertThat(foreign.body()).contains("MACH_SEND_INVALID_DEST");
            // A qualified id is no way in for a tenant that is not an admin.
            Answer qualified = run(BETA, op, "acme~" + secret);
            Answer qualifiedUnused = run(BETA, op, "acme~nobody-" + round);
            assertThat(qualified).as("qualified " + op.method() + " " + op.path()).isEqualTo(qualifiedUnused);
        }
        assertUnchanged();
    }

    private void assertUnchanged() throws IOException {
        Answer read = call(ACME, "GET", "/tasks/" + secret + "/memory/" + A + "?size=16", null, null);
        assertThat(read.status()).isEqualTo(200);
        assertThat(read.body()).isEqualTo(SECRET);
        Answer regions = call(ACME, "GET", "/tasks/" + secret + "/regions", null, null);
        assertThat(regions.body()).contains("\"protection\":\"rw-\"").contains("\"inheritance\":\"copy\"")
                .doesNotContain("\"protection\":\"---\"");
    }

    @Test
    void idsArePerTenant() throws IOException {
        // beta makes its own task with acme's id, forks and restores into it: acme's task is untouched.
        Answer same = json(BETA, "PUT", "/tasks/" + secret, "{}");
        assertThat(same.status()).isEqualTo(201);
        assertThat(same.body()).contains("\"id\":\"" + secret + "\"");
        Answer image = call(BETA, "GET", "/tasks/" + mine + "/snapshot", null, null);
        assertThat(image.status()).isEqualTo(200);
        assertThat(call(BETA, "DELETE", "/tasks/" + secret, null, null).status()).isEqualTo(204);
        assertThat(call(BETA, "PUT", "/tasks/" + secret, "application/vnd.machvm.snapshot",
                image.body().getBytes(StandardCharsets.ISO_8859_1)).status()).isEqualTo(201);
        assertThat(call(BETA, "GET", "/tasks/" + secret + "/memory/" + A + "?size=16", null, null).body())
                .isEqualTo("\0".repeat(16));
        assertUnchanged();
        // Each lists its own.
        assertThat(call(BETA, "GET", "/tasks", null, null).body()).contains("\"" + mine + "\"")
                .doesNotContain("acme~");
        Answer acmeList = call(ACME, "GET", "/tasks", null, null);
        assertThat(acmeList.body()).contains("\"" + secret + "\"").doesNotContain("\"" + mine + "\"");
        // The JSON write runs on a thread of its own, in the caller's tenant.
        assertThat(json(ACME, "PUT", "/tasks/" + secret + "/memory/0x100004000", "{\"data\":\""
                + Base64.getEncoder().encodeToString("json".getBytes(StandardCharsets.US_ASCII)) + "\"}").status())
                .isEqualTo(204);
        assertThat(call(ACME, "GET", "/tasks/" + secret + "/memory/0x100004000?size=4", null, null).body())
                .isEqualTo("json");
    }

    @Test
    void anAdminSeesAndReachesEveryTenantsTasksByQualifiedIds() throws IOException {
        Answer all = call(OPS, "GET", "/tasks", null, null);
        assertThat(all.status()).isEqualTo(200);
        assertThat(all.body()).contains("\"id\":\"acme~" + secret + "\"").contains("\"id\":\"beta~" + mine + "\"");
        Answer read = call(OPS, "GET", "/tasks/acme~" + secret + "/memory/" + A + "?size=16", null, null);
        assertThat(read.status()).isEqualTo(200);
        assertThat(read.body()).isEqualTo(SECRET);
        assertThat(call(OPS, "GET", "/tasks/acme~" + secret, null, null).body())
                .contains("\"id\":\"acme~" + secret + "\"");
        // An admin's own tasks keep plain ids, and a tenant may qualify its own ids.
        assertThat(json(OPS, "PUT", "/tasks/own-" + round, "{}").body()).contains("\"id\":\"own-" + round + "\"");
        assertThat(call(ACME, "GET", "/tasks/acme~" + secret, null, null).status()).isEqualTo(200);
        assertThat(call(OPS, "DELETE", "/tasks/beta~" + mine, null, null).status()).isEqualTo(204);
        assertThat(call(BETA, "GET", "/tasks/" + mine, null, null).status()).isEqualTo(404);
    }

    @Test
    void anAdminForksAndRestoresIntoAnotherTenantByQualifiedIds() throws IOException {
        String child = "child-" + round;
        String restored = "restored-" + round;
        // A fork into acme, by PUT with a chosen id, of acme's task.
        Answer fork = json(OPS, "PUT", "/tasks/acme~" + child, "{\"parent\":\"acme~" + secret + "\"}");
        assertThat(fork.status()).as(fork.body()).isEqualTo(201);
        assertThat(fork.body()).contains("\"id\":\"acme~" + child + "\"");
        // A restore into beta of acme's snapshot, and by the older image-body form.
        Answer image = call(OPS, "GET", "/tasks/acme~" + secret + "/snapshot", null, null);
        assertThat(image.status()).isEqualTo(200);
        byte[] bytes = image.body().getBytes(StandardCharsets.ISO_8859_1);
        Answer restore = call(OPS, "PUT", "/tasks/beta~" + restored + "/snapshot", "application/vnd.machvm.snapshot",
                bytes);
        assertThat(restore.status()).as(restore.body()).isEqualTo(201);
        assertThat(restore.body()).contains("\"id\":\"beta~" + restored + "\"");
        assertThat(call(OPS, "PUT", "/tasks/beta~" + restored + "-old", "application/vnd.machvm.snapshot", bytes)
                .status()).isEqualTo(201);
        // Taken ids are refused for the admin too.
        assertThat(json(OPS, "PUT", "/tasks/acme~" + child, "{\"parent\":\"acme~" + secret + "\"}").status())
                .isEqualTo(409);
        assertThat(call(OPS, "PUT", "/tasks/beta~" + restored + "/snapshot", "application/vnd.machvm.snapshot",
                bytes).status()).isEqualTo(409);
        // The owning tenants have them under plain ids; nobody else does.
        assertThat(call(ACME, "GET", "/tasks/" + child + "/memory/" + A + "?size=16", null, null).body())
                .isEqualTo(SECRET);
        assertThat(call(BETA, "GET", "/tasks/" + restored + "/memory/" + A + "?size=16", null, null).body())
                .isEqualTo(SECRET);
        assertThat(call(BETA, "GET", "/tasks/" + restored + "-old", null, null).status()).isEqualTo(200);
        assertThat(call(ACME, "GET", "/tasks", null, null).body()).contains("\"id\":\"" + child + "\"")
                .doesNotContain(restored);
        assertThat(call(BETA, "GET", "/tasks", null, null).body()).contains("\"id\":\"" + restored + "\"")
                .doesNotContain(child);
        assertThat(call(OPS, "GET", "/tasks/" + child, null, null).status()).isEqualTo(404);
        assertThat(call(OPS, "GET", "/tasks/" + restored, null, null).status()).isEqualTo(404);
        // A tenant that is not an admin gets for another tenant's qualifier what a malformed id gets.
        String fork2 = "{\"parent\":\"" + secret + "\"}";
        Answer malformedFork = json(ACME, "PUT", "/tasks/x!" + round, fork2);
        Answer foreignFork = json(ACME, "PUT", "/tasks/beta~x" + round, fork2);
        assertThat(malformedFork.status()).isEqualTo(400);
        assertThat(malformedFork.body()).contains("KERN_INVALID_ARGUMENT").contains("1 to 64 of");
        assertThat(same(foreignFork, "beta~x" + round)).isEqualTo(same(malformedFork, "x!" + round));
        Answer malformedRestore = call(ACME, "PUT", "/tasks/x!" + round + "/snapshot",
                "application/vnd.machvm.snapshot", bytes);
        Answer foreignRestore = call(ACME, "PUT", "/tasks/beta~x" + round + "/snapshot",
                "application/vnd.machvm.snapshot", bytes);
        assertThat(malformedRestore.status()).isEqualTo(400);
        assertThat(same(foreignRestore, "beta~x" + round)).isEqualTo(same(malformedRestore, "x!" + round));
        assertThat(same(call(ACME, "PUT", "/tasks/beta~x" + round, "application/vnd.machvm.snapshot", bytes),
                "beta~x" + round)).isEqualTo(same(call(ACME, "PUT", "/tasks/x!" + round,
                "application/vnd.machvm.snapshot", bytes), "x!" + round));
        assertThat(call(BETA, "GET", "/tasks/x" + round, null, null).status()).isEqualTo(404);
        assertThat(call(ACME, "GET", "/tasks/x" + round, null, null).status()).isEqualTo(404);
        assertThat(call(OPS, "GET", "/tasks", null, null).body()).doesNotContain("x" + round + "\"");
    }

    /** The answer with the id it names replaced, to compare the answers for two ids. */
    private static Answer same(Answer answer, String id) {
        return new Answer(answer.status(), answer.body().replace(id, "ID"));
    }

    @Test
    void aTenantsTaskQuotaRefusesOnlyThatTenant() throws IOException {
        int before = count(SMALL);
        for (int i = before; i < 2; i++) {
            assertThat(json(SMALL, "POST", "/tasks", "{}").status()).isEqualTo(201);
        }
        Answer refused = json(SMALL, "POST", "/tasks", "{}");
        assertThat(refused.status()).isEqualTo(507);
        assertThat(refused.body()).contains("KERN_RESOURCE_SHORTAGE")
                .contains("machvm.quota.tenants.small.max-tasks");
        assertThat(json(SMALL, "PUT", "/tasks/one-more", "{}").status()).isEqualTo(507);
        assertThat(json(ACME, "POST", "/tasks", "{}").status()).isEqualTo(201);
        // Terminating gives the slot back.
        String id = call(SMALL, "GET", "/tasks", null, null).body().replaceAll("(?s).*?\"id\":\"([^\"]+)\".*", "$1");
        assertThat(call(SMALL, "DELETE", "/tasks/" + id, null, null).status()).isEqualTo(204);
        assertThat(json(SMALL, "POST", "/tasks", "{}").status()).isEqualTo(201);
        // Metrics by tenant, for the admin.
        Answer metrics = call(OPS, "GET", "/actuator/prometheus", null, null);
        assertThat(metrics.body()).contains("machvm_tenant_tasks{tenant=\"small\"} 2")
                .contains("machvm_tenant_resident_bytes{tenant=\"acme\"}");
    }

    private int count(String key) throws IOException {
        return call(key, "GET", "/tasks", null, null).body().split("\"id\"", -1).length - 1;
    }
}
