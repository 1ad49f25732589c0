package io.machvm.cluster;

import static io.machvm.cluster.TenantClusterCalls.assertSameAnswer;
import static io.machvm.cluster.TenantClusterCalls.ids;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The local cluster in api-key mode, with the tenants acme and beta and the admin ops: a forwarded request, a
 * cross-shard fork or {@code vm_read_overwrite}, the merged {@code GET /tasks} and an admin's {@code tenant~id} all act
 * in the caller's tenant, and a scale 2→3 (whose handoff authenticates with the cluster secret) moves every task of
 * both tenants intact. Another tenant's task answers exactly like an unknown one, on every shard. Run with
 * {@code ./mvnw -Pcluster verify}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ApiKeyClusterIT {
    private static final Map<String, String> KEYS = Map.of("acme", "acme-key-0123456789abcdef",
            "beta", "beta-key-0123456789abcdef", "ops", "ops-key-0123456789abcdef");
    private static final String BASE = TenantClusterCalls.BASE;
    private static final JsonMapper JSON = TenantClusterCalls.JSON;

    @RegisterExtension
    final LocalCluster cluster = new LocalCluster("--machvm.security.mode=api-key"
            + " --machvm.security.api-keys.acme=" + KEYS.get("acme")
            + " --machvm.security.api-keys.beta=" + KEYS.get("beta")
            + " --machvm.security.api-keys.ops=" + KEYS.get("ops")
            + " --machvm.security.admin-tenants=ops").startingWith(2);
    private final TenantClusterCalls calls = new TenantClusterCalls(cluster, KEYS);
    /** The content of every task the tests made, by {@code tenant~id}. */
    private final Map<String, String> expected = calls.expected;

    @Test
    @Order(1)
    void eachTenantReachesItsOwnTasksThroughAnyShard() throws Exception {
        for (int i = 0; i < 12; i++) {
            calls.make("acme", "t-" + i, "acme:t-" + i);
            calls.make("beta", "t-" + i, "beta:t-" + i);
        }
        // the entry point tells the tenant from the API key: each request goes straight to the owner
        for (int i = 0; i < 12; i++) {
            HttpResponse<String> info = calls.call("beta", "GET", cluster.proxy() + "/tasks/t-" + i, null);
            assertThat(info.headers().firstValue("Machvm-Entry"))
                    .hasValue("shard-" + info.headers().firstValue("Machvm-Shard").orElseThrow());
        }
        for (Map.Entry<Integer, String> shard : cluster.shards().entrySet()) {
            for (int i = 0; i < 12; i++) {
                String id = "t-" + i;
                HttpResponse<String> acme = calls.read("acme", shard.getValue(), id, ("acme:" + id).length());
                assertThat(acme.body()).isEqualTo("acme:" + id);
                assertThat(acme.headers().firstValue("Machvm-Shard")).hasValue(
                        Integer.toString(calls.ownerOf("acme", id)));
                assertThat(calls.read("beta", shard.getValue(), id, ("beta:" + id).length()).body())
                        .isEqualTo("beta:" + id);
            }
            // a shard's own list holds its tasks of the caller's tenant only
            for (JsonNode task : calls.list("acme", shard.getValue(), "Machvm-Direct", "1")) {
                assertThat(expected).containsKey("acme~" + task.get("id").asString());
            }
        }
    }

    @Test
    @Order(2)
    void forksAndReadOverwriteAcrossShardsStayInTheCallersTenant() throws Exception {
        int parentOwner = calls.ownerOf("acme", "t-1");
        String child = calls.idOn("acme", 1 - parentOwner, "fork-");
        HttpResponse<String> fork = calls.call("acme", "PUT", cluster.proxy() + "/tasks/" + child,
                "{\"parent\": \"t-1\"}");
        assertThat(fork.statusCode()).as(fork.body()).isEqualTo(201);
        assertThat(calls.read("acme", cluster.proxy(), child, 8).body()).isEqualTo("acme:t-1");
        expected.put("acme~" + child, "acme:t-1");

        // beta names acme's task as a parent, on another shard: exactly an unknown parent
        String never = calls.unknownBesides("beta", child, "never-");
        String betaChild = calls.idOn("beta", 1 - calls.ownerOf("beta", child), "b-fork-");
        assertSameAnswer(calls.call("beta", "PUT", cluster.proxy() + "/tasks/" + betaChild, "{\"parent\": \"" + child
                + "\"}"), child, calls.call("beta", "PUT", cluster.proxy() + "/tasks/" + betaChild, "{\"parent\": \""
                + never + "\"}"), never, 404);
        assertSameAnswer(calls.call("beta", "PUT", cluster.proxy() + "/tasks/" + betaChild, "{\"parent\": \"acme~"
                + child + "\"}"), "acme~" + child, calls.call("beta", "PUT", cluster.proxy() + "/tasks/" + betaChild,
                "{\"parent\": \"acme~" + never + "\"}"), "acme~" + never, 404);

        // vm_read_overwrite from acme's t-2 into acme's task on the other shard
        String dest = calls.idOn("acme", 1 - calls.ownerOf("acme", "t-2"), "dest-");
        calls.make("acme", dest, "xxxxxxxxxx");
        HttpResponse<String> copied = calls.call("acme", "POST", cluster.proxy() + "/tasks/t-2/read-overwrite",
                "{\"address\": \"" + BASE + "\", \"size\": \"8\", \"destTask\": \"" + dest
                        + "\", \"destAddress\": \"" + BASE + "\"}");
        assertThat(copied.statusCode()).as(copied.body()).isEqualTo(200);
        expected.put("acme~" + dest, "acme:t-2xx");
        assertThat(calls.read("acme", cluster.proxy(), dest, 10).body()).isEqualTo("acme:t-2xx");
        // beta cannot write into acme's task: its destTask is no task of beta's
        String into = "{\"address\": \"" + BASE + "\", \"size\": \"8\", \"destAddress\": \"" + BASE
                + "\", \"destTask\": \"";
        String unknownDest = calls.unknownBesides("beta", dest, "never-dest-");
        assertSameAnswer(calls.call("beta", "POST", cluster.proxy() + "/tasks/t-2/read-overwrite", into + dest + "\"}"),
                dest, calls.call("beta", "POST", cluster.proxy() + "/tasks/t-2/read-overwrite", into + unknownDest
                        + "\"}"), unknownDest, 404);
        assertThat(calls.read("acme", cluster.proxy(), dest, 10).body()).isEqualTo("acme:t-2xx");
    }

    @Test
    @Order(3)
    void theMergedListingIsTheCallersTenant() throws Exception {
        for (String tenant : List.of("acme", "beta")) {
            HttpResponse<String> answer = cluster.send("GET", cluster.proxy() + "/tasks", null, null,
                    "Authorization", "Bearer " + KEYS.get(tenant));
            assertThat(answer.headers().firstValue("Machvm-Shard")).hasValue("all");
            assertThat(ids(JSON.readTree(answer.body()))).isEqualTo(calls.idsOf(tenant));
        }
        // the admin sees both tenants, qualified
        assertThat(ids(calls.list("ops", cluster.proxy()))).isEqualTo(expected.keySet());
        assertThat(cluster.send("GET", cluster.proxy() + "/tasks", null, null).statusCode()).isEqualTo(401);
        HttpResponse<String> statistics = cluster.send("GET", cluster.proxy() + "/host/statistics", null, null,
                "Authorization", "Bearer " + KEYS.get("beta"));
        assertThat(statistics.headers().firstValue("Machvm-Shard")).hasValue("all");
        assertThat(JSON.readTree(statistics.body()).get("shards").asInt()).isEqualTo(2);
    }

    @Test
    @Order(4)
    void anAdminReachesAnyTenantsTaskByTenantIdOnItsShard() throws Exception {
        for (int i = 0; i < 12; i++) {
            String id = "t-" + i;
            int owner = calls.ownerOf("acme", id);
            String other = cluster.shards().get(1 - owner);
            HttpResponse<String> viaOther = calls.read("ops", other, "acme~" + id, ("acme:" + id).length());
            assertThat(viaOther.body()).isEqualTo("acme:" + id);
            assertThat(viaOther.headers().firstValue("Machvm-Shard")).hasValue(Integer.toString(owner));
            // and the entry point places acme~id by acme's slot
            assertThat(calls.read("ops", cluster.proxy(), "acme~" + id, 1).headers().firstValue("Machvm-Entry"))
                    .hasValue("shard-" + owner);
            HttpResponse<String> misdirected = cluster.send("GET", other + "/tasks/acme~" + id, null, null,
                    "Authorization", "Bearer " + KEYS.get("ops"), "Machvm-Direct", "1");
            assertThat(misdirected.statusCode()).isEqualTo(421);
            JsonNode problem = JSON.readTree(misdirected.body());
            assertThat(problem.get("slot").asInt()).isEqualTo(Placement.slot("acme", id));
            assertThat(problem.get("kern").asString()).isEqualTo("KERN_NOT_RECEIVER");
        }
        // the admin makes a task in beta through a shard that does not own it: beta's, on beta's shard
        String made = calls.idOn("beta", 0, "by-ops-");
        assertThat(cluster.send("PUT", cluster.shards().get(1) + "/tasks/beta~" + made, null, null,
                "Authorization", "Bearer " + KEYS.get("ops")).statusCode()).isEqualTo(201);
        assertThat(calls.call("beta", "GET", cluster.shards().get(0) + "/tasks/" + made, null).statusCode())
                .isEqualTo(200);
        expected.put("beta~" + made, "");
        assertSameAnswer(calls.call("acme", "GET", cluster.proxy() + "/tasks/beta~" + made, null), "beta~" + made,
                calls.call("acme", "GET", cluster.proxy() + "/tasks/beta~never-y", null), "beta~never-y", 404);
        // the operator's endpoints: admins only
        assertThat(cluster.send("GET", cluster.proxy() + "/cluster", null, null).statusCode()).isEqualTo(401);
        assertThat(calls.call("acme", "GET", cluster.shards().get(0) + "/cluster", null).statusCode()).isEqualTo(403);
        assertThat(calls.call("ops", "GET", cluster.shards().get(0) + "/cluster", null).statusCode()).isEqualTo(200);
    }

    @Test
    @Order(5)
    void aScaleMovesEveryTenantsTasksIntactAndKeepsThemApart() throws Exception {
        calls.assertAScaleTo3KeepsEveryTaskOnceIntactAndApart("ops", "acme", "beta");
        // the secret was never written to a log
        String secret = cluster.secret();
        try (var logs = Files.list(cluster.dir())) {
            for (Path shard : logs.filter(p -> p.getFileName().toString().startsWith("shard-")).toList()) {
                assertThat(Files.readString(shard.resolve("log"))).doesNotContain(secret);
            }
        }
    }
}
