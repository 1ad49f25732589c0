package io.machvm.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
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
    private static final String BASE = "0x100000000";
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final LocalCluster cluster = new LocalCluster("--machvm.security.mode=api-key"
            + " --machvm.security.api-keys.acme=" + KEYS.get("acme")
            + " --machvm.security.api-keys.beta=" + KEYS.get("beta")
            + " --machvm.security.api-keys.ops=" + KEYS.get("ops")
            + " --machvm.security.admin-tenants=ops");
    /** The content of every task the tests made, by {@code tenant~id}. */
    private final Map<String, String> expected = new TreeMap<>();

    @BeforeAll
    void up() throws Exception {
        cluster.up(2);
    }

    @AfterAll
    void down() throws Exception {
        cluster.down();
    }

    @Test
    @Order(1)
    void eachTenantReachesItsOwnTasksThroughAnyShard() throws Exception {
        for (int i = 0; i < 12; i++) {
            make("acme", "t-" + i, "acme:t-" + i);
            make("beta", "t-" + i, "beta:t-" + i);
        }
        // the entry point tells the tenant from the API key: each request goes straight to the owner
        for (int i = 0; i < 12; i++) {
            HttpResponse<String> info = call("beta", "GET", cluster.proxy() + "/tasks/t-" + i, null);
            assertThat(info.headers().firstValue("Machvm-Entry"))
                    .hasValue("shard-" + info.headers().firstValue("Machvm-Shard").orElseThrow());
        }
        for (Map.Entry<Integer, String> shard : cluster.shards().entrySet()) {
            for (int i = 0; i < 12; i++) {
                String id = "t-" + i;
                HttpResponse<String> acme = read("acme", shard.getValue(), id, ("acme:" + id).length());
                assertThat(acme.body()).isEqualTo("acme:" + id);
                assertThat(acme.headers().firstValue("Machvm-Shard")).hasValue(
                        Integer.toString(ownerOf("acme", id)));
                assertThat(read("beta", shard.getValue(), id, ("beta:" + id).length()).body())
                        .isEqualTo("beta:" + id);
            }
            // a shard's own list holds its tasks of the caller's tenant only
            for (JsonNode task : list("acme", shard.getValue(), "Machvm-Direct", "1")) {
                assertThat(expected).containsKey("acme~" + task.get("id").asString());
            }
        }
    }

    @Test
    @Order(2)
    void forksAndReadOverwriteAcrossShardsStayInTheCallersTenant() throws Exception {
        int parentOwner = ownerOf("acme", "t-1");
        String child = idOn("acme", 1 - parentOwner, "fork-");
        HttpResponse<String> fork = call("acme", "PUT", cluster.proxy() + "/tasks/" + child,
                "{\"parent\": \"t-1\"}");
        assertThat(fork.statusCode()).as(fork.body()).isEqualTo(201);
        assertThat(read("acme", cluster.proxy(), child, 8).body()).isEqualTo("acme:t-1");
        expected.put("acme~" + child, "acme:t-1");

        // beta names acme's task as a parent, on another shard: exactly an unknown parent
        String never = unknownBesides("beta", child, "never-");
        String betaChild = idOn("beta", 1 - ownerOf("beta", child), "b-fork-");
        assertSameAnswer(call("beta", "PUT", cluster.proxy() + "/tasks/" + betaChild, "{\"parent\": \"" + child
                + "\"}"), child, call("beta", "PUT", cluster.proxy() + "/tasks/" + betaChild, "{\"parent\": \""
                + never + "\"}"), never, 404);
        assertSameAnswer(call("beta", "PUT", cluster.proxy() + "/tasks/" + betaChild, "{\"parent\": \"acme~"
                + child + "\"}"), "acme~" + child, call("beta", "PUT", cluster.proxy() + "/tasks/" + betaChild,
                "{\"parent\": \"acme~" + never + "\"}"), "acme~" + never, 404);

        // vm_read_overwrite from acme's t-2 into acme's task on the other shard
        String dest = idOn("acme", 1 - ownerOf("acme", "t-2"), "dest-");
        make("acme", dest, "xxxxxxxxxx");
        HttpResponse<String> copied = call("acme", "POST", cluster.proxy() + "/tasks/t-2/read-overwrite",
                "{\"address\": \"" + BASE + "\", \"size\": \"8\", \"destTask\": \"" + dest
                        + "\", \"destAddress\": \"" + BASE + "\"}");
        assertThat(copied.statusCode()).as(copied.body()).isEqualTo(200);
        expected.put("acme~" + dest, "acme:t-2xx");
        assertThat(read("acme", cluster.proxy(), dest, 10).body()).isEqualTo("acme:t-2xx");
        // beta cannot write into acme's task: its destTask is no task of beta's
        String into = "{\"address\": \"" + BASE + "\", \"size\": \"8\", \"destAddress\": \"" + BASE
                + "\", \"destTask\": \"";
        String unknownDest = unknownBesides("beta", dest, "never-dest-");
        assertSameAnswer(call("beta", "POST", cluster.proxy() + "/tasks/t-2/read-overwrite", into + dest + "\"}"),
                dest, call("beta", "POST", cluster.proxy() + "/tasks/t-2/read-overwrite", into + unknownDest
                        + "\"}"), unknownDest, 404);
        assertThat(read("acme", cluster.proxy(), dest, 10).body()).isEqualTo("acme:t-2xx");
    }

    @Test
    @Order(3)
    void theMergedListingIsTheCallersTenant() throws Exception {
        for (String tenant : List.of("acme", "beta")) {
            HttpResponse<String> answer = cluster.send("GET", cluster.proxy() + "/tasks", null, null,
                    "Authorization", "Bearer " + KEYS.get(tenant));
            assertThat(answer.headers().firstValue("Machvm-Shard")).hasValue("all");
            assertThat(ids(JSON.readTree(answer.body()))).isEqualTo(idsOf(tenant));
        }
        // the admin sees both tenants, qualified
        assertThat(ids(list("ops", cluster.proxy()))).isEqualTo(expected.keySet());
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
            int owner = ownerOf("acme", id);
            String other = cluster.shards().get(1 - owner);
            HttpResponse<String> viaOther = read("ops", other, "acme~" + id, ("acme:" + id).length());
            assertThat(viaOther.body()).isEqualTo("acme:" + id);
            assertThat(viaOther.headers().firstValue("Machvm-Shard")).hasValue(Integer.toString(owner));
            // and the entry point places acme~id by acme's slot
            assertThat(read("ops", cluster.proxy(), "acme~" + id, 1).headers().firstValue("Machvm-Entry"))
                    .hasValue("shard-" + owner);
            HttpResponse<String> misdirected = cluster.send("GET", other + "/tasks/acme~" + id, null, null,
                    "Authorization", "Bearer " + KEYS.get("ops"), "Machvm-Direct", "1");
            assertThat(misdirected.statusCode()).isEqualTo(421);
            JsonNode problem = JSON.readTree(misdirected.body());
            assertThat(problem.get("slot").asInt()).isEqualTo(Placement.slot("acme", id));
            assertThat(problem.get("kern").asString()).isEqualTo("KERN_NOT_RECEIVER");
        }
        // the admin makes a task in beta through a shard that does not own it: beta's, on beta's shard
        String made = idOn("beta", 0, "by-ops-");
        assertThat(cluster.send("PUT", cluster.shards().get(1) + "/tasks/beta~" + made, null, null,
                "Authorization", "Bearer " + KEYS.get("ops")).statusCode()).isEqualTo(201);
        assertThat(call("beta", "GET", cluster.shards().get(0) + "/tasks/" + made, null).statusCode())
                .isEqualTo(200);
        expected.put("beta~" + made, "");
        assertSameAnswer(call("acme", "GET", cluster.proxy() + "/tasks/beta~" + made, null), "beta~" + made,
                call("acme", "GET", cluster.proxy() + "/tasks/beta~never-y", null), "beta~never-y", 404);
        // the operator's endpoints: admins only
        assertThat(cluster.send("GET", cluster.proxy() + "/cluster", null, null).statusCode()).isEqualTo(401);
        assertThat(call("acme", "GET", cluster.shards().get(0) + "/cluster", null).statusCode()).isEqualTo(403);
        assertThat(call("ops", "GET", cluster.shards().get(0) + "/cluster", null).statusCode()).isEqualTo(200);
    }

    @Test
    @Order(5)
    void aScaleMovesEveryTenantsTasksIntactAndKeepsThemApart() throws Exception {
        cluster.run("scale", "3", cluster.dir().toString());
        assertThat(cluster.shards()).hasSize(3);
        Map<String, Integer> copies = new HashMap<>();
        for (String shard : cluster.shards().values()) {
            for (String key : ids(list("ops", shard, "Machvm-Direct", "1"))) {
                copies.merge(key, 1, Integer::sum);
            }
        }
        assertThat(copies.keySet()).isEqualTo(expected.keySet());
        assertThat(new TreeSet<>(copies.values())).as("copies of a task").containsExactly(1);
        int onTheNewShard = ids(list("ops", cluster.shards().get(2), "Machvm-Direct", "1")).size();
        assertThat(onTheNewShard).as("tasks handed off to shard 2").isPositive();
        for (Map.Entry<String, String> task : expected.entrySet()) {
            String tenant = task.getKey().substring(0, task.getKey().indexOf('~'));
            String id = task.getKey().substring(tenant.length() + 1);
            if (!task.getValue().isEmpty()) {
                assertThat(read(tenant, cluster.proxy(), id, task.getValue().length()).body())
                        .as(task.getKey()).isEqualTo(task.getValue());
            }
            // the other tenant, on every shard: acme's task is no task of beta's, and the other way round
            String other = tenant.equals("acme") ? "beta" : "acme";
            for (String shard : cluster.shards().values()) {
                assertSameAnswer(call(other, "GET", shard + "/tasks/" + task.getKey(), null), task.getKey(),
                        call(other, "GET", shard + "/tasks/" + tenant + "~never-z", null), tenant + "~never-z", 404);
            }
        }
        // the secret was never written to a log
        String secret = cluster.secret();
        try (var logs = Files.list(cluster.dir())) {
            for (Path shard : logs.filter(p -> p.getFileName().toString().startsWith("shard-")).toList()) {
                assertThat(Files.readString(shard.resolve("log"))).doesNotContain(secret);
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    /** Two refusals are the same answer: status, kern and detail, but for the id each names. */
    private static void assertSameAnswer(HttpResponse<String> one, String oneId, HttpResponse<String> other,
            String otherId, int status) {
        assertThat(one.statusCode()).as(one.body()).isEqualTo(status);
        assertThat(other.statusCode()).as(other.body()).isEqualTo(status);
        JsonNode a = JSON.readTree(one.body());
        JsonNode b = JSON.readTree(other.body());
        assertThat(a.get("kern")).isEqualTo(b.get("kern"));
        assertThat(a.get("detail").asString().replace(oneId, "ID")).isEqualTo(b.get("detail").asString()
                .replace(otherId, "ID"));
    }

    private HttpResponse<String> call(String tenant, String method, String url, String json) throws Exception {
        return cluster.send(method, url, json == null ? null : "application/json", json, "Authorization",
                "Bearer " + KEYS.get(tenant));
    }

    private void make(String tenant, String id, String content) throws Exception {
        HttpResponse<String> created = call(tenant, "PUT", cluster.proxy() + "/tasks/" + id, null);
        assertThat(created.statusCode()).as(id + ": " + created.body()).isEqualTo(201);
        HttpResponse<String> allocated = call(tenant, "POST", cluster.proxy() + "/tasks/" + id + "/allocate",
                "{\"address\": \"" + BASE + "\", \"size\": \"0x4000\", \"flags\": 0}");
        assertThat(allocated.statusCode()).as(allocated.body()).isEqualTo(201);
        HttpResponse<String> written = cluster.send("PUT", cluster.proxy() + "/tasks/" + id + "/memory/" + BASE,
                "application/octet-stream", content, "Authorization", "Bearer " + KEYS.get(tenant));
        assertThat(written.statusCode()).as(written.body()).isEqualTo(204);
        expected.put(tenant + "~" + id, content);
    }

    private HttpResponse<String> read(String tenant, String base, String id, int length) throws Exception {
        HttpResponse<String> got = call(tenant, "GET", base + "/tasks/" + id + "/memory/" + BASE + "?size=" + length,
                null);
        assertThat(got.statusCode()).as(base + " " + id + ": " + got.body()).isEqualTo(200);
        return got;
    }

    private JsonNode list(String tenant, String base, String... headers) throws Exception {
        List<String> all = new ArrayList<>(List.of("Authorization", "Bearer " + KEYS.get(tenant)));
        all.addAll(List.of(headers));
        HttpResponse<String> answer = cluster.send("GET", base + "/tasks", null, null, all.toArray(String[]::new));
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
        return JSON.readTree(answer.body());
    }

    private static TreeSet<String> ids(JsonNode list) {
        TreeSet<String> ids = new TreeSet<>();
        list.forEach(task -> ids.add(task.get("id").asString()));
        return ids;
    }

    /** The ids of the tenant's tasks, as the tenant knows them. */
    private TreeSet<String> idsOf(String tenant) {
        TreeSet<String> ids = new TreeSet<>();
        expected.keySet().stream().filter(key -> key.startsWith(tenant + "~"))
                .forEach(key -> ids.add(key.substring(tenant.length() + 1)));
        return ids;
    }

    /** The shard that owns the tenant's id: the one that does not answer 421 when asked directly. */
    private int ownerOf(String tenant, String id) throws Exception {
        for (Map.Entry<Integer, String> shard : cluster.shards().entrySet()) {
            HttpResponse<String> answer = cluster.send("GET", shard.getValue() + "/tasks/" + id, null, null,
                    "Authorization", "Bearer " + KEYS.get(tenant), "Machvm-Direct", "1");
            if (answer.statusCode() != 421) {
                return shard.getKey();
            }
        }
        throw new AssertionError("no shard owns " + tenant + "~" + id);
    }

    /** An id the tenant has no task with, owned by the shard of the tenant's {@code id}: refused on the same path. */
    private String unknownBesides(String tenant, String id, String prefix) throws Exception {
        return idOn(tenant, ownerOf(tenant, id), prefix);
    }

    /** A fresh id of the tenant that the shard owns. */
    private String idOn(String tenant, int shard, String prefix) throws Exception {
        for (int i = 0; ; i++) {
            String id = prefix + i;
            if (!expected.containsKey(tenant + "~" + id) && cluster.send("GET", cluster.shards().get(shard)
                    + "/tasks/" + id, null, null, "Authorization", "Bearer " + KEYS.get(tenant), "Machvm-Direct",
                    "1").statusCode() == 404) {
                return id;
            }
        }
    }
}
