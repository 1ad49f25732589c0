package io.machvm.security;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Date;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Jwt mode through Spring Boot's own resource-server settings, against a JWK set this test serves: the tenant is the
 * configured claim, the admin scope opens the operations endpoints, and a token that is unsigned, signed by another
 * key, expired or without the claim is a 401 problem.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"machvm.store.capacity=64MB", "machvm.store.slab-size=16MB",
                "machvm.security.mode=jwt", "machvm.security.tenant-claim=tenant"})
class JwtModeTest {
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final RSAKey KEY = generate("k1");
    private static final RSAKey OTHER_KEY = generate("k1");
    private static final HttpServer JWKS = serveJwkSet();

    @LocalServerPort
    int port;

    @DynamicPropertySource
    static void jwkSetUri(DynamicPropertyRegistry registry) {
        registry.add("spring.security.oauth2.resourceserver.jwt.jwk-set-uri",
                () -> "http://127.0.0.1:" + JWKS.getAddress().getPort() + "/jwks.json");
    }

    @AfterAll
    static void stopJwkSet() {
        JWKS.stop(0);
    }

    private static RSAKey generate(String id) {
        try {
            return new RSAKeyGenerator(2048).keyID(id).generate();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    private static HttpServer serveJwkSet() {
        try {
            HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            byte[] body = new JWKSet(KEY.toPublicJWK()).toString().getBytes(StandardCharsets.UTF_8);
            server.createContext("/jwks.json", exchange -> {
                exchange.getResponseHeaders().add("Content-Type", "application/json");
                exchange.sendResponseHeaders(200, body.length);
                exchange.getResponseBody().write(body);
                exchange.close();
            });
            server.start();
            return server;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static String token(RSAKey key, Map<String, Object> claims, Instant expires) {
        JWTClaimsSet.Builder builder = new JWTClaimsSet.Builder().subject("someone").issueTime(new Date())
                .expirationTime(Date.from(expires));
        claims.forEach(builder::claim);
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).build(),
                builder.build());
        try {
            jwt.sign(new RSASSASigner(key));
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
        return jwt.serialize();
    }

    static String token(Map<String, Object> claims) {
        return token(KEY, claims, Instant.now().plusSeconds(600));
    }

    static String bearer(String token) {
        return "Authorization: Bearer " + token + "\r\n";
    }

    @Test
    void aValidTokenActsForTheTenantInItsClaim() throws IOException {
        String acme = token(Map.of("tenant", "acme"));
        Wire.Answer created = Wire.send(LOOPBACK, port, "PUT", "/tasks/jwt-task", bearer(acme), new byte[0]);
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        assertThat(Wire.get(LOOPBACK, port, "/tasks/jwt-task", bearer(acme)).status()).isEqualTo(200);
        // Another tenant does not see it: the same answer as for an id nobody uses.
        String beta = token(Map.of("tenant", "beta"));
        Wire.Answer other = Wire.get(LOOPBACK, port, "/tasks/jwt-task", bearer(beta));
        assertThat(other.status()).isEqualTo(404);
        assertThat(other.body()).contains("MACH_SEND_INVALID_DEST");
        assertThat(Wire.get(LOOPBACK, port, "/tasks", bearer(beta)).body()).doesNotContain("jwt-task");
    }

    @Test
    void badTokensAre401() throws IOException {
        String[] tokens = {
            token(OTHER_KEY, Map.of("tenant", "acme"), Instant.now().plusSeconds(600)), // signed by another key
            token(KEY, Map.of("tenant", "acme"), Instant.now().minusSeconds(3600)), // expired
            token(Map.of()), // no tenant claim
            token(Map.of("tenant", "a/b")), // not a tenant name
            "eyJhbGciOiJub25lIn0.eyJ0ZW5hbnQiOiJhY21lIn0.", // unsigned
            "not-a-jwt",
        };
        for (String t : tokens) {
            Wire.Answer answer = Wire.get(LOOPBACK, port, "/tasks", bearer(t));
            assertThat(answer.status()).as(t).isEqualTo(401);
            assertThat(answer.header("WWW-Authenticate")).startsWith("Bearer").contains("invalid_token");
            assertThat(answer.body()).contains("\"kern\":\"KERN_PROTECTION_FAILURE\"");
        }
        Wire.Answer none = Wire.get(LOOPBACK, port, "/tasks", "");
        assertThat(none.status()).isEqualTo(401);
        assertThat(none.header("WWW-Authenticate")).startsWith("Bearer");
    }

    @Test
    void theAdminScopeOpensTheOperationsEndpoints() throws IOException {
        String tenant = token(Map.of("tenant", "acme", "scope", "read"));
        String admin = token(Map.of("tenant", "ops", "scope", "read machvm:admin"));
        assertThat(Wire.get(LOOPBACK, port, "/actuator/prometheus", bearer(tenant)).status()).isEqualTo(403);
        assertThat(Wire.get(LOOPBACK, port, "/actuator/prometheus", bearer(admin)).status()).isEqualTo(200);
        assertThat(Wire.get(LOOPBACK, port, "/actuator/prometheus", "").status()).isEqualTo(401);
        assertThat(Wire.get(LOOPBACK, port, "/actuator/health/readiness", "").status()).isEqualTo(200);
    }
}
