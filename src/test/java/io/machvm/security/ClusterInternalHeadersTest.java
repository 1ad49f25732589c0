package io.machvm.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.cluster.Placement;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The headers shards send each other ({@code Machvm-Asking}, {@code Machvm-Hop}, {@code Machvm-Cluster-Caller}) count
 * only on a call that carries the cluster secret. Shard 0 of two, with shard 1 down, while a scale gives every slot to
 * shard 0: a client that sends {@code Machvm-Asking} itself would otherwise make shard 0 create a task that shard 1
 * still owns (a second copy). From a client they are a 400 problem, and nothing changes.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.DEFINED_PORT,
        properties = {"machvm.store.capacity=64MB", "machvm.store.slab-size=16MB",
                "machvm.security.mode=api-key",
                "machvm.security.api-keys.acme=" + ApiKeyModeTest.ACME_KEY,
                "machvm.security.api-keys.ops=" + ApiKeyModeTest.OPS_KEY,
                "machvm.security.admin-tenants=ops",
                "machvm.cluster.enabled=true", "machvm.cluster.shard=0", "machvm.cluster.shards=2",
                "machvm.cluster.secret=" + ClusterApiKeyModeTest.SECRET})
class ClusterInternalHeadersTest {
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final String SECRET = "Machvm-Cluster-Secret: " + ClusterApiKeyModeTest.SECRET + "\r\n";
    private static final int PORT = ClusterApiKeyModeTest.freePort();
    private static final int DOWN = ClusterApiKeyModeTest.freePort();
    private static final String ACME = ApiKeyModeTest.bearer(ApiKeyModeTest.ACME_KEY);

    @DynamicPropertySource
    static void shards(DynamicPropertyRegistry registry) {
        ClusterApiKeyModeTest.twoShards(registry, PORT, DOWN);
    }

    /** A scale to shard 0 alone is under way: shard 1's slots are importing here. */
    @BeforeAll
    void beginAScaleToOneShard() throws IOException {
        Wire.Answer plan = post("/cluster/plan", SECRET, "{\"shards\":[\"http://127.0.0.1:" + PORT + "\"]}");
        assertThat(plan.status()).as(plan.body()).isEqualTo(200);
        Wire.Answer begun = post("/cluster/begin", SECRET, plan.body());
        assertThat(begun.status()).as(begun.body()).isEqualTo(200);
    }

    /** An id of acme's that shard 1 owns until the scale commits (slots 8192-16383 of the even table of 2). */
    private static String onShard1(String prefix) {
        for (int i = 0; ; i++) {
            String id = prefix + i;
            if (Placement.slot("acme", id) >= 8192) {
                return id;
            }
        }
    }

    private static Wire.Answer post(String path, String headers, String json) throws IOException {
        return Wire.send(LOOPBACK, PORT, "POST", path, headers + "Content-Type: application/json\r\n",
                json.getBytes(StandardCharsets.UTF_8));
    }

    private static Wire.Answer put(String path, String headers) throws IOException {
        return Wire.send(LOOPBACK, PORT, "PUT", path, headers, new byte[0]);
    }

    private static void assertRefused(Wire.Answer answer, String header) {
        assertThat(answer.status()).as(answer.body()).isEqualTo(400);
        assertThat(answer.header("Content-Type")).startsWith("application/problem+json");
        assertThat(answer.body()).contains("\"kern\":\"KERN_INVALID_ARGUMENT\"", "\"header\":\"" + header + "\"",
                "Machvm-Cluster-Secret").doesNotContain(ClusterApiKeyModeTest.SECRET);
    }

    @Test
    void aClientsAskingHeaderIsRefusedAndMakesNoSecondCopy() throws IOException {
        String id = onShard1("asked-");
        assertRefused(put("/tasks/" + id, ACME + "Machvm-Asking: 1\r\n"), "Machvm-Asking");
        assertRefused(put("/tasks/" + id, ACME + "machvm-asking: yes\r\n"), "Machvm-Asking");
        // the admin's credentials are no shard's either
        assertRefused(put("/tasks/acme~" + id, ApiKeyModeTest.bearer(ApiKeyModeTest.OPS_KEY)
                + "Machvm-Asking: 1\r\n"), "Machvm-Asking");
        // without it the create goes to the owner, which is down: 503, and no copy here
        assertThat(put("/tasks/" + id, ACME).status()).isEqualTo(503);
        assertThat(Wire.get(LOOPBACK, PORT, "/tasks", ACME + "Machvm-Direct: 1\r\n").body()).doesNotContain(id);
    }

    @Test
    void everyInternalHeaderNeedsTheSecret() throws IOException {
        assertRefused(Wire.get(LOOPBACK, PORT, "/tasks", ACME + "Machvm-Hop: 1\r\n"), "Machvm-Hop");
        assertRefused(Wire.get(LOOPBACK, PORT, "/host/statistics", ACME + "Machvm-Hop: 2\r\n"), "Machvm-Hop");
        assertRefused(Wire.get(LOOPBACK, PORT, "/tasks/x", ACME + "Machvm-Cluster-Caller: credentials\r\n"),
                "Machvm-Cluster-Caller");
        // a wrong secret does not make a shard of the client
        assertRefused(put("/tasks/" + onShard1("wrong-"), ACME + "Machvm-Cluster-Caller: credentials\r\n"
                + "Machvm-Cluster-Secret: " + ClusterApiKeyModeTest.SECRET.toUpperCase() + "\r\nMachvm-Asking: 1\r\n"),
                "Machvm-Asking");
        // Machvm-Direct is the clients' own
        assertThat(Wire.get(LOOPBACK, PORT, "/tasks", ACME + "Machvm-Direct: 1\r\n").status()).isEqualTo(200);
    }

    @Test
    void aShardForwardingWithTheClientsCredentialsIsAPeer() throws IOException {
        String id = onShard1("forwarded-");
        // as shard 1 forwards a create to the importing shard: the client's key, the secret, and Machvm-Asking
        Wire.Answer created = put("/tasks/" + id, ACME + SECRET + "Machvm-Cluster-Caller: credentials\r\n"
                + "Machvm-Asking: 1\r\nMachvm-Hop: 1\r\n");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        // and it acted for acme, not for the operator
        assertThat(Wire.get(LOOPBACK, PORT, "/tasks", ACME + "Machvm-Direct: 1\r\n").body()).contains(id);
        assertThat(Wire.get(LOOPBACK, PORT, "/cluster", ACME + SECRET + "Machvm-Cluster-Caller: credentials\r\n")
                .status()).isEqualTo(403);
    }
}
