package io.machvm.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * A shard in protected mode: the shards' calls to each other come from other machines (other pods), with the cluster
 * secret, and are served; without it such a client is refused as any other. The secret also spares the Host and
 * origin checks meant for browsers (a shard names its peer by its DNS name). A shard vouching for an anonymous
 * client gives it no admin rights.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"machvm.store.capacity=64MB", "machvm.store.slab-size=16MB",
                "machvm.cluster.enabled=true", "machvm.cluster.shard=0", "machvm.cluster.shards=1",
                "machvm.cluster.peers=http://127.0.0.1:1",
                "machvm.cluster.secret=" + ClusterApiKeyModeTest.SECRET})
class ClusterProtectedModeTest {
    private static final String SECRET = "Machvm-Cluster-Secret: " + ClusterApiKeyModeTest.SECRET + "\r\n";
    private static final String PEER_HOST = "Host: machvm-1.machvm-shards.default.svc.cluster.local:8080\r\n";
    @LocalServerPort
    int port;

    /** A non-loopback address of this machine to connect from, as another pod would; skips the test without one. */
    private static InetAddress anotherMachine() throws IOException {
        InetAddress outside = Wire.nonLoopbackAddress();
        assumeTrue(outside != null, "this machine has no non-loopback address");
        return outside;
    }

    @Test
    void aPeerWithTheSecretIsServedFromAnotherMachine() throws IOException {
        InetAddress outside = anotherMachine();
        assertThat(Wire.get(outside, port, "/cluster", PEER_HOST).status()).isEqualTo(403);
        assertThat(Wire.get(outside, port, "/cluster", PEER_HOST + SECRET).status()).isEqualTo(200);
        Wire.Answer created = Wire.send(outside, port, "PUT", "/tasks/from-a-peer", PEER_HOST + SECRET
                + "Origin: http://elsewhere.example\r\n", new byte[0]);
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        Wire.Answer wrong = Wire.get(outside, port, "/tasks", PEER_HOST + "Machvm-Cluster-Secret: "
                + ClusterApiKeyModeTest.SECRET.toUpperCase() + "\r\n");
        assertThat(wrong.status()).isEqualTo(401);
        assertThat(wrong.body()).contains("\"kern\":\"KERN_PROTECTION_FAILURE\"");
    }

    @Test
    void anAnonymousClientVouchedForIsNoAdmin() throws IOException {
        InetAddress outside = anotherMachine();
        String anonymous = PEER_HOST + SECRET + "Machvm-Cluster-Caller: anonymous\r\n";
        assertThat(Wire.get(outside, port, "/tasks", anonymous + "Machvm-Direct: 1\r\n").status())
                .isEqualTo(200);
        assertThat(Wire.get(outside, port, "/cluster", anonymous).status()).isEqualTo(403);
        // the node's operator on loopback, as ever
        assertThat(Wire.get(InetAddress.getLoopbackAddress(), port, "/cluster", "").status()).isEqualTo(200);
    }
}
