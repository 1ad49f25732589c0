package io.machvm.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * Api-key mode: {@code Authorization: Bearer <key>} with a plain key or one configured as {@code {sha256}<hex>};
 * anything else is a 401 problem with {@code WWW-Authenticate: Bearer}. Probes answer without credentials and
 * without details; the other operations endpoints need an admin.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"machvm.store.capacity=64MB", "machvm.store.slab-size=16MB",
                "machvm.security.mode=api-key",
                "machvm.security.api-keys.acme=" + ApiKeyModeTest.ACME_KEY,
                // sha256("beta-key-0123456789abcdef")
                "machvm.security.api-keys.beta={sha256}" + ApiKeyModeTest.BETA_DIGEST,
                "machvm.security.api-keys.ops=" + ApiKeyModeTest.OPS_KEY,
                "machvm.security.admin-tenants=ops"})
class ApiKeyModeTest {
    static final String ACME_KEY = "acme-key-0123456789abcdef";
    static final String BETA_KEY = "beta-key-0123456789abcdef";
    static final String BETA_DIGEST = "eb21fbde279a3af10c35f2f55a8143566ee012e75173d91ca07c3c49235edeca";
    static final String OPS_KEY = "ops-key-0123456789abcdef";
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    @LocalServerPort
    int port;

    static String bearer(String key) {
        return "Authorization: Bearer " + key + "\r\n";
    }

    @Test
    void theDigestInTheSettingsIsTheBetaKeys() {
        assertThat(MachvmSecurityProperties.sha256Hex(BETA_KEY)).isEqualTo(BETA_DIGEST);
    }

    @Test
    void withoutCredentialsTheAnswerIs401WithABearerChallenge() throws IOException {
        for (String path : new String[] {"/tasks", "/host/page-size", "/host/statistics", "/tasks/t1"}) {
            Wire.Answer answer = Wire.get(LOOPBACK, port, path, "");
            assertThat(answer.status()).as(path).isEqualTo(401);
            assertThat(answer.header("WWW-Authenticate")).startsWith("Bearer");
            assertThat(answer.header("Content-Type")).startsWith("application/problem+json");
            assertThat(answer.body()).contains("\"status\":401").contains("\"kern\":\"KERN_PROTECTION_FAILURE\"")
                    .contains("\"instance\":\"" + path + "\"");
        }
        assertThat(Wire.send(LOOPBACK, port, "POST", "/tasks", "", new byte[0]).status()).isEqualTo(401);
    }

    @Test
    void aWrongKeyIs401InvalidToken() throws IOException {
        for (String header : new String[] {bearer("acme-key-0123456789abcdeX"), bearer(BETA_DIGEST),
                bearer("{sha256}" + BETA_DIGEST), "Authorization: Basic YWNtZTprZXk=\r\n", bearer("")}) {
            Wire.Answer answer = Wire.get(LOOPBACK, port, "/tasks", header);
            assertThat(answer.status()).as(header).isEqualTo(401);
            assertThat(answer.header("WWW-Authenticate")).as(header).startsWith("Bearer");
            assertThat(answer.body()).contains("\"kern\":\"KERN_PROTECTION_FAILURE\"");
        }
        assertThat(Wire.get(LOOPBACK, port, "/tasks", bearer("nope-0123456789abcdef")).header("WWW-Authenticate"))
                .contains("error=\"invalid_token\"");
    }

    @Test
    void aRightKeyIsServedFromAnywhere() throws IOException {
        assertThat(Wire.get(LOOPBACK, port, "/tasks", bearer(ACME_KEY)).status()).isEqualTo(200);
        assertThat(Wire.get(LOOPBACK, port, "/tasks", bearer(BETA_KEY)).status()).isEqualTo(200);
        Wire.Answer created = Wire.send(LOOPBACK, port, "POST", "/tasks", bearer(ACME_KEY), new byte[0]);
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        InetAddress outside = Wire.nonLoopbackAddress();
        assumeTrue(outside != null, "this machine has no non-loopback address");
        assertThat(Wire.get(outside, port, "/tasks", "Host: machvm.example\r\n" + bearer(ACME_KEY)).status())
                .isEqualTo(200);
        assertThat(Wire.get(outside, port, "/tasks", "Host: machvm.example\r\n").status()).isEqualTo(401);
    }

    @Test
    void probesAnswerWithoutCredentialsAndWithoutDetails() throws IOException {
        for (String probe : new String[] {"/actuator/health/liveness", "/actuator/health/readiness"}) {
            for (String header : new String[] {"", bearer(ACME_KEY)}) {
                Wire.Answer answer = Wire.get(LOOPBACK, port, probe, header);
                assertThat(answer.status()).as(probe).isEqualTo(200);
                assertThat(answer.body()).contains("\"status\":\"UP\"").doesNotContain("components");
            }
        }
    }

    @Test
    void operationsEndpointsNeedAnAdmin() throws IOException {
        for (String path : new String[] {"/actuator", "/actuator/health", "/actuator/prometheus", "/actuator/info"}) {
            assertThat(Wire.get(LOOPBACK, port, path, "").status()).as(path).isEqualTo(401);
            Wire.Answer tenant = Wire.get(LOOPBACK, port, path, bearer(ACME_KEY));
            assertThat(tenant.status()).as(path).isEqualTo(403);
            assertThat(tenant.body()).contains("\"kern\":\"KERN_PROTECTION_FAILURE\"").contains("admin");
            assertThat(Wire.get(LOOPBACK, port, path, bearer(OPS_KEY)).status()).as(path).isEqualTo(200);
        }
        Wire.Answer health = Wire.get(LOOPBACK, port, "/actuator/health", bearer(OPS_KEY));
        assertThat(health.body()).contains("pageStore").doesNotContain("diskSpace")
                .doesNotContain(System.getProperty("user.dir"));
    }

    @Test
    void hostAndOriginAreNotCheckedWhenCredentialsAreRequired() throws IOException {
        // A browser page can neither read the key nor send it cross-site without a CORS preflight, which fails.
        assertThat(Wire.get(LOOPBACK, port, "/tasks", "Host: machvm.example\r\n" + bearer(ACME_KEY)).status())
                .isEqualTo(200);
    }
}
