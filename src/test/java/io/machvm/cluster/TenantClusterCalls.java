package io.machvm.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Calls on a local cluster as tenants with bearer credentials of their own (API keys or JWTs), and the content of
 * every task they made, by {@code tenant~id}: what the cluster ITs of the modes with credentials check the cluster
 * against.
 */
final class TenantClusterCalls {
    static final String BASE = "0x100000000";
    static final JsonMapper JSON = JsonMapper.builder().build();

    private final LocalCluster cluster;
    /** Each tenant's credential, sent as {@code Authorization: Bearer …}. */
    private final Map<String, String> bearer;
    /** The content of every task made, by {@code tenant~id}. */
    final Map<String, String> expected = new TreeMap<>();

    TenantClusterCalls(LocalCluster cluster, Map<String, String> bearer) {
        this.cluster = cluster;
        this.bearer = bearer;
    }

    HttpResponse<String> call(String tenant, String method, String url, String json) throws Exception {
        return cluster.send(method, url, json == null ? null : "application/json", json, "Authorization",
                "Bearer " + bearer.get(tenant));
    }

    /** Creates the task through the entry point, with 16 KiB at {@link #BASE} that start with {@code content}. */
    void make(String tenant, String id, String content) throws Exception {
        HttpResponse<String> created = call(tenant, "PUT", cluster.proxy() + "/tasks/" + id, null);
        assertThat(created.statusCode()).as(id + ": " + created.body()).isEqualTo(201);
        HttpResponse<String> allocated = call(tenant, "POST", cluster.proxy() + "/tasks/" + id + "/allocate",
                "{\"address\": \"" + BASE + "\", \"size\": \"0x4000\", \"flags\": 0}");
        assertThat(allocated.statusCode()).as(allocated.body()).isEqualTo(201);
        HttpResponse<String> written = cluster.send("PUT", cluster.proxy() + "/tasks/" + id + "/memory/" + BASE,
                "application/octet-stream", content, "Authorization", "Bearer " + bearer.get(tenant));
        assertThat(written.statusCode()).as(written.body()).isEqualTo(204);
        expected.put(tenant + "~" + id, content);
    }

    HttpResponse<String> read(String tenant, String base, String id, int length) throws Exception {
        HttpResponse<String> got = call(tenant, "GET", base + "/tasks/" + id + "/memory/" + BASE + "?size=" + length,
                null);
        assertThat(got.statusCode()).as(base + " " + id + ": " + got.body()).isEqualTo(200);
        return got;
    }

    JsonNode list(String tenant, String base, String... headers) throws Exception {
        List<String> all = new ArrayList<>(List.of("Authorization", "Bearer " + bearer.get(tenant)));
        all.addAll(List.of(headers));
        HttpResponse<String> answer = cluster.send("GET", base + "/tasks", null, null, all.toArray(String[]::new));
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
        return JSON.readTree(answer.body());
    }

    static TreeSet<String> ids(JsonNode list) {
        TreeSet<String> ids = new TreeSet<>();
        list.forEach(task -> ids.add(task.get("id").asString()));
        return ids;
    }

    /** The ids of the tenant's tasks, as the tenant knows them. */
    TreeSet<String> idsOf(String tenant) {
        TreeSet<String> ids = new TreeSet<>();
        expected.keySet().stream().filter(key -> key.startsWith(tenant + "~"))
                .forEach(key -> ids.add(key.substring(tenant.length() + 1)));
        return ids;
    }

    /** The shard that owns the tenant's id: the one that does not answer 421 when asked directly. */
    int ownerOf(String tenant, String id) throws Exception {
        for (Map.Entry<Integer, String> shard : cluster.shards().entrySet()) {
            HttpResponse<String> answer = cluster.send("GET", shard.getValue() + "/tasks/" + id, null, null,
                    "Authorization", "Bearer " + bearer.get(tenant), "Machvm-Direct", "1");
            if (answer.statusCode() != 421) {
                return shard.getKey();
            }
        }
        throw new AssertionError("no shard owns " + tenant + "~" + id);
    }

    /** An id the tenant has no task with, owned by the shard of the tenant's {@code id}: refused on the same path. */
    String unknownBesides(String tenant, String id, String prefix) throws Exception {
        return idOn(tenant, ownerOf(tenant, id), prefix);
    }

    /** A fresh id of the tenant that the shard owns. */
    String idOn(String tenant, int shard, String prefix) throws Exception {
        for (int i = 0; ; i++) {
            String id = prefix + i;
            if (!expected.containsKey(tenant + "~" + id) && cluster.send("GET", cluster.shards().get(shard)
                    + "/tasks/" + id, null, null, "Authorization", "Bearer " + bearer.get(tenant), "Machvm-Direct",
                    "1").statusCode() == 404) {
                return id;
            }
        }
    }

    /** Two refusals are the same answer: status, kern and detail, but for the id each names. */
    static void assertSameAnswer(HttpResponse<String> one, String oneId, HttpResponse<String> other, String otherId,
            int status) {
        assertThat(one.statusCode()).as(one.body()).isEqualTo(status);
        assertThat(other.statusCode()).as(other.body()).isEqualTo(status);
        JsonNode a = JSON.readTree(one.body());
        JsonNode b = JSON.readTree(other.body());
        assertThat(a.get("kern")).isEqualTo(b.get("kern"));
        assertThat(a.get("detail").asString().replace(oneId, "ID")).isEqualTo(b.get("detail").asString()
                .replace(otherId, "ID"));
    }

    /**
     * Scales the cluster from 2 shards to 3; then every task made is on exactly one shard (as the admin lists each
     * shard), some on the new one, reads back its content through the entry point as its tenant, and is, for the
     * other tenant, exactly an unknown task on every shard.
     */
    void assertAScaleTo3KeepsEveryTaskOnceIntactAndApart(String admin, String one, String other) throws Exception {
        cluster.run("scale", "3", cluster.dir().toString());
        assertThat(cluster.shards()).hasSize(3);
        assertThat(ids(list(admin, cluster.shards().get(2), "Machvm-Direct", "1")))
                .as("tasks handed off to shard 2").isNotEmpty();
        Map<String, Integer> copies = new HashMap<>();
        for (String shard : cluster.shards().values()) {
            for (String key : ids(list(admin, shard, "Machvm-Direct", "1"))) {
                copies.merge(key, 1, Integer::sum);
            }
        }
        assertThat(copies.keySet()).isEqualTo(expected.keySet());
        assertThat(new TreeSet<>(copies.values())).as("copies of a task").containsExactly(1);
        for (Map.Entry<String, String> task : expected.entrySet()) {
            String tenant = task.getKey().substring(0, task.getKey().indexOf('~'));
            String id = task.getKey().substring(tenant.length() + 1);
            if (!task.getValue().isEmpty()) {
                assertThat(read(tenant, cluster.proxy(), id, task.getValue().length()).body())
                        .as(task.getKey()).isEqualTo(task.getValue());
            }
            String stranger = tenant.equals(one) ? other : one;
            for (String shard : cluster.shards().values()) {
                assertSameAnswer(call(stranger, "GET", shard + "/tasks/" + task.getKey(), null), task.getKey(),
                        call(stranger, "GET", shard + "/tasks/" + tenant + "~never-z", null), tenant + "~never-z",
                        404);
            }
        }
    }
}
