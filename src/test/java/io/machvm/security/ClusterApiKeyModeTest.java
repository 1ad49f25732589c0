package io.machvm.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.cluster.Placement;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A shard in api-key mode, shard 0 of two whose shard 1 is down: the operator's {@code /cluster} endpoints need an
 * admin or the cluster secret; the secret acts as the operator (an admin) and a wrong one is a 401 that does not
 * repeat it; a peer's fork image is the caller's tenant's only; the cluster's own problems (421 naming the owner, 503
 * with Retry-After) are problems like the API's, with a {@code kern}.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.DEFINED_PORT,
        properties = {"machvm.store.capacity=64MB", "machvm.store.slab-size=16MB",
                "machvm.security.mode=api-key",
                "machvm.security.api-keys.acme=" + ApiKeyModeTest.ACME_KEY,
                "machvm.security.api-keys.beta=" + ApiKeyModeTest.BETA_KEY,
                "machvm.security.api-keys.ops=" + ApiKeyModeTest.OPS_KEY,
                "machvm.security.admin-tenants=ops",
                "machvm.cluster.enabled=true", "machvm.cluster.shard=0", "machvm.cluster.shards=2",
                "machvm.cluster.secret=" + ClusterApiKeyModeTest.SECRET})
class ClusterApiKeyModeTest {
    static final String SECRET = "cluster-secret-0123456789abcdef-0123456789";
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final int PORT = freePort();
    private static final int DOWN = freePort();

    @DynamicPropertySource
    static void shards(DynamicPropertyRegistry registry) {
        twoShards(registry, PORT, DOWN);
    }

    /** This node as shard 0 on {@code port}, and shard 1 on {@code down}, where nothing listens. */
    static void twoShards(DynamicPropertyRegistry registry, int port, int down) {
        registry.add("server.port", () -> port);
        registry.add("machvm.cluster.peers", () -> "http://127.0.0.1:" + port + ",http://127.0.0.1:" + down);
    }

    static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String secret(String value) {
        return "Machvm-Cluster-Secret: " + value + "\r\n";
    }

    /** An id of the tenant that the table gives to the shard (even table of 2: shard 0 holds slots 0-8191). */
    private static String idOn(int shard, String tenant, String prefix) {
        for (int i = 0; ; i++) {
            String id = prefix + i;
            if (Placement.slot(tenant, id) / 8192 == shard) {
                return id;
            }
        }
    }

    private static Wire.Answer get(String path, String headers) throws IOException {
        return Wire.get(LOOPBACK, PORT, path, headers);
    }

    private static Wire.Answer put(String path, String headers) throws IOException {
        return Wire.send(LOOPBACK, PORT, "PUT", path, headers, new byte[0]);
    }

    @Test
    void theOperatorEndpointsNeedAnAdminOrTheSecret() throws IOException {
        assertThat(get("/cluster", "").status()).isEqualTo(401);
        assertThat(get("/cluster", ApiKeyModeTest.bearer(ApiKeyModeTest.ACME_KEY)).status()).isEqualTo(403);
        Wire.Answer plan = Wire.send(LOOPBACK, PORT, "POST", "/cluster/plan", "Content-Type: application/json\r\n"
                + ApiKeyModeTest.bearer(ApiKeyModeTest.ACME_KEY), "{\"shards\":[\"http://x\"]}".getBytes(
                        StandardCharsets.UTF_8));
        assertThat(plan.status()).isEqualTo(403);
        assertThat(plan.body()).contains("\"kern\":\"KERN_PROTECTION_FAILURE\"");
        assertThat(get("/cluster", ApiKeyModeTest.bearer(ApiKeyModeTest.OPS_KEY)).status()).isEqualTo(200);
        assertThat(get("/cluster", secret(SECRET)).body()).contains("\"epoch\":1");

        String wrong = SECRET.replace('0', 'X');
        Wire.Answer refused = get("/cluster", secret(wrong));
        assertThat(refused.status()).isEqualTo(401);
        assertThat(refused.header("WWW-Authenticate")).startsWith("Bearer");
        assertThat(refused.body()).contains("\"kern\":\"KERN_PROTECTION_FAILURE\"")
                .contains("Machvm-Cluster-Secret").doesNotContain(wrong).doesNotContain(SECRET);
        // a secret of another length is refused alike
        assertThat(get("/cluster", secret("short")).status()).isEqualTo(401);
        // a shard vouching for an anonymous client gives it no admin rights
        assertThat(get("/cluster", secret(SECRET) + "Machvm-Cluster-Caller: anonymous\r\n").status())
                .isEqualTo(403);
        assertThat(get("/cluster", secret(SECRET) + "Machvm-Cluster-Caller: ops\r\n").status()).isEqualTo(401);
    }

    @Test
    void theSecretActsAsTheOperatorInEveryTenantAndTenantsStayApart() throws IOException {
        String id = idOn(0, "acme", "moved-");
        // a handoff's import: the task of tenant acme, made with the secret by its tenant~id
        assertThat(put("/tasks/acme~" + id, secret(SECRET)).status()).isEqualTo(201);
        assertThat(get("/tasks/" + id, ApiKeyModeTest.bearer(ApiKeyModeTest.ACME_KEY)).status()).isEqualTo(200);
        assertThat(get("/tasks/acme~" + id, ApiKeyModeTest.bearer(ApiKeyModeTest.OPS_KEY)).status()).isEqualTo(200);

        // beta: acme's task, by plain or qualified id, answers as an unknown one
        String beta = ApiKeyModeTest.bearer(ApiKeyModeTest.BETA_KEY);
        Wire.Answer theirs = get("/tasks/acme~" + id, beta);
        Wire.Answer unknown = get("/tasks/acme~never-made", beta);
        assertThat(theirs.status()).isEqualTo(404).isEqualTo(unknown.status());
        assertThat(theirs.body().replace("acme~" + id, "ID"))
                .isEqualTo(unknown.body().replace("acme~never-made", "ID"));
        assertThat(theirs.body()).contains("\"kern\":\"MACH_SEND_INVALID_DEST\"");
        // and a peer's fork image of it too
        assertThat(get("/cluster/tasks/" + id + "/fork-image", beta).status()).isEqualTo(404);
        assertThat(get("/cluster/tasks/acme~" + id + "/fork-image", beta).status()).isEqualTo(404);
        Wire.Answer image = get("/cluster/tasks/" + id + "/fork-image",
                ApiKeyModeTest.bearer(ApiKeyModeTest.ACME_KEY));
        assertThat(image.status()).isEqualTo(200);
        assertThat(image.header("Content-Type")).startsWith("application/vnd.machvm.snapshot");
    }

    @Test
    void aShardAskedDirectlyNamesTheOwnerInAProblemWithItsKern() throws IOException {
        String acme = ApiKeyModeTest.bearer(ApiKeyModeTest.ACME_KEY);
        String remote = idOn(1, "acme", "remote-");
        Wire.Answer misdirected = get("/tasks/" + remote, acme + "Machvm-Direct: 1\r\n");
        assertThat(misdirected.status()).isEqualTo(421);
        assertThat(misdirected.header("Content-Type")).startsWith("application/problem+json");
        assertThat(misdirected.header("Machvm-Owner")).isEqualTo("1 http://127.0.0.1:" + DOWN);
        assertThat(misdirected.body()).contains("\"type\":\"/problems/KERN_NOT_RECEIVER\"",
                "\"kern\":\"KERN_NOT_RECEIVER\"", "\"kernReturn\":8", "\"status\":421", "\"owner\":1",
                "\"ownerUrl\":\"http://127.0.0.1:" + DOWN + "\"", "\"slot\":" + Placement.slot("acme", remote));

        // forwarded, the owner is down: 503 with Retry-After, never a 404 or a copy here
        Wire.Answer down = put("/tasks/" + remote, acme);
        assertThat(down.status()).isEqualTo(503);
        assertThat(down.header("Retry-After")).isEqualTo("1");
        assertThat(down.body()).contains("\"kern\":\"MACH_SEND_TIMED_OUT\"", "\"kernReturn\":268435460",
                "\"type\":\"/problems/MACH_SEND_TIMED_OUT\"");
        assertThat(get("/tasks", acme + "Machvm-Direct: 1\r\n").body()).doesNotContain(remote);
        // the whole cluster's list needs every shard
        Wire.Answer list = get("/tasks", acme);
        assertThat(list.status()).isEqualTo(503);
        assertThat(list.body()).contains("\"kern\":\"MACH_SEND_TIMED_OUT\"");
        assertThat(get("/problems/KERN_NOT_RECEIVER", "").body()).contains("\"status\":421");
    }

    /**
     * {@code POST /tasks/restore} is an operation on the collection, not a call on a task named {@code restore}:
     * restored here under an id this shard mints, although acme's id {@code restore} is shard 1's (down). A restore
     * under a chosen id goes to that id's owner, as a create does.
     */
    @Test
    void aRestoreIsPlacedLikeACreate() throws IOException {
        String acme = ApiKeyModeTest.bearer(ApiKeyModeTest.ACME_KEY);
        assertThat(Placement.slot("acme", "restore") / 8192).as("acme's task id restore").isEqualTo(1);
        String source = idOn(0, "acme", "imaged-");
        assertThat(put("/tasks/" + source, acme).status()).isEqualTo(201);
        byte[] image;
        try (HttpClient client = HttpClient.newHttpClient()) {
            HttpResponse<byte[]> snapshot = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + PORT
                    + "/tasks/" + source + "/snapshot")).header("Authorization", "Bearer " + ApiKeyModeTest.ACME_KEY)
                    .build(), HttpResponse.BodyHandlers.ofByteArray());
            assertThat(snapshot.statusCode()).isEqualTo(200);
            image = snapshot.body();
        } catch (InterruptedException e) {
            throw new IOException(e);
        }
        String type = "Content-Type: application/vnd.machvm.snapshot\r\n";

        Wire.Answer restored = Wire.send(LOOPBACK, PORT, "POST", "/tasks/restore", acme + type, image);
        assertThat(restored.status()).as(restored.body()).isEqualTo(201);
        String minted = restored.header("Location").substring("/tasks/".length());
        assertThat(Placement.slot("acme", minted) / 8192).isZero();
        assertThat(restored.header("Machvm-Shard")).isEqualTo("0");
        assertThat(get("/tasks/" + minted, acme + "Machvm-Direct: 1\r\n").status()).isEqualTo(200);
        // the task named restore is still a task: shard 1's
        assertThat(get("/tasks/restore", acme + "Machvm-Direct: 1\r\n").status()).isEqualTo(421);

        // a chosen id of shard 1's: to its owner, which is down; no copy here
        String remote = idOn(1, "acme", "restored-");
        Wire.Answer elsewhere = Wire.send(LOOPBACK, PORT, "PUT", "/tasks/" + remote + "/snapshot", acme + type, image);
        assertThat(elsewhere.status()).as(elsewhere.body()).isEqualTo(503);
        assertThat(get("/tasks", acme + "Machvm-Direct: 1\r\n").body()).doesNotContain(remote);
        String local = idOn(0, "acme", "restored-");
        assertThat(Wire.send(LOOPBACK, PORT, "PUT", "/tasks/" + local + "/snapshot", acme + type, image).status())
                .isEqualTo(201);
    }

    @Test
    void anAdminsQualifiedIdIsRoutedByItsTenant() throws IOException {
        String ops = ApiKeyModeTest.bearer(ApiKeyModeTest.OPS_KEY);
        // an id that shard 0 owns for ops but shard 1 owns for acme: acme~id goes to shard 1
        String id = "x-0";
        for (int i = 0; Placement.slot("ops", id) / 8192 != 0 || Placement.slot("acme", id) / 8192 != 1; i++) {
            id = "x-" + i;
        }
        assertThat(get("/tasks/" + id, ops + "Machvm-Direct: 1\r\n").status()).isEqualTo(404);
        Wire.Answer qualified = get("/tasks/acme~" + id, ops + "Machvm-Direct: 1\r\n");
        assertThat(qualified.status()).isEqualTo(421);
        assertThat(qualified.body()).contains("\"slot\":" + Placement.slot("acme", id));
        assertThat(get("/tasks/acme%7E" + id, ops + "Machvm-Direct: 1\r\n").status()).isEqualTo(421);
    }
}
