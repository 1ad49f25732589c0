package io.machvm.cluster;

import static io.machvm.cluster.TenantClusterCalls.assertSameAnswer;
import static io.machvm.cluster.TenantClusterCalls.ids;
import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The local cluster in jwt mode (Spring's resource server with a public key), with JWTs of the tenants acme and beta
 * and the admin ops: the entry point cannot tell a token's tenant, so most requests are forwarded, with the token,
 * by a shard that does not own the task; a cross-shard fork, the merged listing and a scale 2→3 all keep to the
 * token's tenant. Run with {@code ./mvnw -Pcluster verify}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class JwtClusterIT {
    private static final RSAKey KEY = generate();
    private static final Map<String, String> TOKENS = Map.of("acme", token(KEY, "acme"), "beta", token(KEY, "beta"),
            "ops", token(KEY, "ops"));

    private final Path publicKey = publicKeyFile();
    @RegisterExtension
    final LocalCluster cluster = new LocalCluster("--machvm.security.mode=jwt"
            + " --machvm.security.tenant-claim=tenant --machvm.security.admin-tenants=ops"
            + " --spring.security.oauth2.resourceserver.jwt.public-key-location=file:" + publicKey).startingWith(2);
    private final TenantClusterCalls calls = new TenantClusterCalls(cluster, TOKENS);

    @AfterAll
    void deletePublicKey() throws Exception {
        Files.deleteIfExists(publicKey);
    }

    private static RSAKey generate() {
        try {
            return new RSAKeyGenerator(2048).keyID("cluster-it").generate();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String token(RSAKey key, String tenant) {
        try {
            SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).build(),
                    new JWTClaimsSet.Builder().subject(tenant + "-client").claim("tenant", tenant)
                            .expirationTime(Date.from(Instant.now().plusSeconds(3600))).build());
            jwt.sign(new RSASSASigner(key));
            return jwt.serialize();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The key's public half as PEM, in a file the shards read ({@code public-key-location}). */
    private static Path publicKeyFile() {
        try {
            Path file = Files.createTempFile("machvm-jwt", ".pem");
            Files.writeString(file, "-----BEGIN PUBLIC KEY-----\n" + Base64.getMimeEncoder(64, "\n".getBytes())
                    .encodeToString(KEY.toRSAPublicKey().getEncoded()) + "\n-----END PUBLIC KEY-----\n");
            return file;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    @Order(1)
    void eachTokensTenantReachesItsTasksThroughAShardThatDoesNotOwnThem() throws Exception {
        for (int i = 0; i < 6; i++) {
            calls.make("acme", "j-" + i, "acme:j-" + i);
            calls.make("beta", "j-" + i, "beta:j-" + i);
        }
        for (int i = 0; i < 6; i++) {
            String id = "j-" + i;
            int owner = calls.ownerOf("acme", id);
            HttpResponse<String> forwarded = calls.read("acme", cluster.shards().get(1 - owner), id, 8);
            assertThat(forwarded.body()).isEqualTo("acme:" + id);
            assertThat(forwarded.headers().firstValue("Machvm-Shard")).hasValue(Integer.toString(owner));
            assertThat(calls.read("beta", cluster.shards().get(1 - calls.ownerOf("beta", id)), id, 8).body())
                    .isEqualTo("beta:" + id);
        }
        // the entry point reads the token's tenant claim: each request goes straight to the owner
        for (String tenant : List.of("acme", "beta")) {
            for (int i = 0; i < 6; i++) {
                HttpResponse<String> info = calls.call(tenant, "GET", cluster.proxy() + "/tasks/j-" + i, null);
                assertThat(info.statusCode()).isEqualTo(200);
                assertThat(info.headers().firstValue("Machvm-Entry"))
                        .hasValue("shard-" + info.headers().firstValue("Machvm-Shard").orElseThrow());
            }
        }
        // a token signed by another key is refused by the shard it reaches, forwarded or not
        String forged = "Bearer " + token(generate(), "acme");
        for (String base : cluster.shards().values()) {
            assertThat(cluster.send("GET", base + "/tasks/j-0", null, null, "Authorization", forged).statusCode())
                    .isEqualTo(401);
        }
    }

    @Test
    @Order(2)
    void aForkAcrossShardsAndTheListingsKeepToTheTokensTenant() throws Exception {
        String child = calls.idOn("acme", 1 - calls.ownerOf("acme", "j-1"), "fork-");
        HttpResponse<String> fork = calls.call("acme", "PUT", cluster.proxy() + "/tasks/" + child,
                "{\"parent\": \"j-1\"}");
        assertThat(fork.statusCode()).as(fork.body()).isEqualTo(201);
        assertThat(calls.read("acme", cluster.proxy(), child, 8).body()).isEqualTo("acme:j-1");
        calls.expected.put("acme~" + child, "acme:j-1");
        // beta names acme's child as its parent: exactly an unknown parent
        String never = calls.unknownBesides("beta", child, "never-");
        String betaChild = calls.idOn("beta", 1 - calls.ownerOf("beta", child), "b-fork-");
        assertSameAnswer(calls.call("beta", "PUT", cluster.proxy() + "/tasks/" + betaChild, "{\"parent\": \""
                + child + "\"}"), child, calls.call("beta", "PUT", cluster.proxy() + "/tasks/" + betaChild,
                "{\"parent\": \"" + never + "\"}"), never, 404);

        for (String tenant : new String[] {"acme", "beta"}) {
            HttpResponse<String> answer = calls.call(tenant, "GET", cluster.proxy() + "/tasks", null);
            assertThat(answer.headers().firstValue("Machvm-Shard")).hasValue("all");
            assertThat(ids(TenantClusterCalls.JSON.readTree(answer.body()))).isEqualTo(calls.idsOf(tenant));
        }
        assertThat(ids(calls.list("ops", cluster.proxy()))).isEqualTo(calls.expected.keySet());
    }

    @Test
    @Order(3)
    void aScaleMovesEveryTenantsTasksIntactAndKeepsThemApart() throws Exception {
        calls.assertAScaleTo3KeepsEveryTaskOnceIntactAndApart("ops", "acme", "beta");
    }
}
