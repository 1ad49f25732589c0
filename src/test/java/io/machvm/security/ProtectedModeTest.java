package io.machvm.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * Protected mode, the default: loopback clients are served, any other client gets a 403 problem saying how to
 * configure access, whatever forwarding headers it sends; the probes answer everyone without details; a foreign
 * {@code Host} (DNS rebinding) and cross-site state changes are refused. The non-loopback client is real: it connects
 * through this machine's own non-loopback interface address. Forwarding headers are trusted here as on Kubernetes.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"machvm.store.capacity=64MB", "machvm.store.slab-size=16MB",
                "server.forward-headers-strategy=native",
                "server.tomcat.remoteip.internal-proxies=.*"})
class ProtectedModeTest {
    private static InetAddress outside;
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    @LocalServerPort
    int port;

    @BeforeAll
    static void findOutsideAddress() throws IOException {
        outside = Wire.nonLoopbackAddress();
    }

    @Test
    void loopbackClientsAreServed() throws IOException {
        assertThat(Wire.get(LOOPBACK, port, "/tasks", "").status()).isEqualTo(200);
        Wire.Answer created = Wire.send(LOOPBACK, port, "POST", "/tasks", "", new byte[0]);
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        Wire.Answer viaLocalhostName = Wire.get(LOOPBACK, port, "/host/page-size", "Host: localhost\r\n");
        assertThat(viaLocalhostName.status()).isEqualTo(200);
    }

    @Test
    void otherClientsGetAProblemThatSaysHowToConfigureAccess() throws IOException {
        assumeTrue(outside != null, "this machine has no non-loopback address");
        for (String path : new String[] {"/tasks", "/host/page-size", "/actuator/prometheus", "/actuator/health",
                "/actuator/info", "/problems/KERN_FAILURE"}) {
            Wire.Answer answer = Wire.get(outside, port, path, "Host: " + outside.getHostAddress() + ":" + port
                    + "\r\n");
            assertThat(answer.status()).as(path).isEqualTo(403);
            assertThat(answer.header("Content-Type")).startsWith("application/problem+json");
            assertThat(answer.body()).contains("\"kern\":\"KERN_PROTECTION_FAILURE\"")
                    .contains("machvm.security.mode=api-key").contains("machvm.security.api-keys.<tenant>")
                    .contains("machvm.security.mode=none");
        }
        Wire.Answer create = Wire.send(outside, port, "POST", "/tasks", "", new byte[0]);
        assertThat(create.status()).isEqualTo(403);
    }

    @Test
    void forwardingHeadersCannotMakeAClientLocal() throws IOException {
        assumeTrue(outside != null, "this machine has no non-loopback address");
        for (String header : new String[] {"X-Forwarded-For: 127.0.0.1\r\n", "Forwarded: for=127.0.0.1\r\n",
                "X-Forwarded-For: 127.0.0.1, 127.0.0.1\r\nX-Real-IP: 127.0.0.1\r\n"}) {
            assertThat(Wire.get(outside, port, "/tasks", header).status()).as(header).isEqualTo(403);
        }
        // A proxy on this machine forwarding someone else is not a local client either.
        assertThat(Wire.get(LOOPBACK, port, "/tasks", "X-Forwarded-For: 203.0.113.9\r\n").status()).isEqualTo(403);
    }

    @Test
    void probesAnswerEveryoneWithoutDetails() throws IOException {
        assumeTrue(outside != null, "this machine has no non-loopback address");
        for (String probe : new String[] {"/actuator/health/liveness", "/actuator/health/readiness"}) {
            Wire.Answer answer = Wire.get(outside, port, probe, "Host: " + outside.getHostAddress() + ":" + port
                    + "\r\n");
            assertThat(answer.status()).as(probe).isEqualTo(200);
            assertThat(answer.body()).contains("\"status\":\"UP\"").doesNotContain("components")
                    .doesNotContain("details");
        }
    }

    @Test
    void healthDetailsForTheLocalOperatorDoNotShowTheWorkingDirectory() throws IOException {
        Wire.Answer health = Wire.get(LOOPBACK, port, "/actuator/health", "");
        assertThat(health.status()).isEqualTo(200);
        assertThat(health.body()).contains("pageStore").doesNotContain("diskSpace")
                .doesNotContain(System.getProperty("user.dir"));
    }

    @Test
    void aForeignHostIsRefusedAgainstDnsRebinding() throws IOException {
        Wire.Answer rebound = Wire.get(LOOPBACK, port, "/tasks", "Host: evil.example:" + port + "\r\n");
        assertThat(rebound.status()).isEqualTo(403);
        assertThat(rebound.body()).contains("\"kern\":\"KERN_PROTECTION_FAILURE\"")
                .contains("machvm.security.allowed-hosts");
        assertThat(Wire.send(LOOPBACK, port, "POST", "/tasks", "Host: evil.example\r\n", new byte[0]).status())
                .isEqualTo(403);
        // IP literals and loopback names cannot be rebound.
        assertThat(Wire.get(LOOPBACK, port, "/tasks", "Host: 127.0.0.1:" + port + "\r\n").status()).isEqualTo(200);
        assertThat(Wire.get(LOOPBACK, port, "/tasks", "Host: [::1]:" + port + "\r\n").status()).isEqualTo(200);
        assertThat(Wire.get(LOOPBACK, port, "/tasks", "Host: machvm.localhost\r\n").status()).isEqualTo(200);
    }

    @Test
    void crossSiteRequestsThatChangeStateAreRefused() throws IOException {
        int before = taskCount();
        // An HTML form posting nothing, with and without the Origin a browser adds.
        Wire.Answer form = Wire.send(LOOPBACK, port, "POST", "/tasks",
                "Content-Type: application/x-www-form-urlencoded\r\n", new byte[0]);
        assertThat(form.status()).isEqualTo(415);
        assertThat(form.body()).contains("\"kern\":\"KERN_INVALID_ARGUMENT\"");
        assertThat(Wire.send(LOOPBACK, port, "POST", "/tasks", "Content-Type: text/plain\r\n",
                "{}".getBytes(StandardCharsets.US_ASCII)).status()).isEqualTo(415);
        assertThat(Wire.send(LOOPBACK, port, "POST", "/tasks", "Origin: https://evil.example\r\n"
                + "Content-Type: application/x-www-form-urlencoded\r\n", new byte[0]).status()).isEqualTo(403);
        // A no-CORS fetch sends no content type, but its Origin and Sec-Fetch-Site give it away.
        assertThat(Wire.send(LOOPBACK, port, "POST", "/tasks", "Origin: https://evil.example\r\n", new byte[0])
                .status()).isEqualTo(403);
        assertThat(Wire.send(LOOPBACK, port, "POST", "/tasks", "Origin: null\r\n", new byte[0]).status())
                .isEqualTo(403);
        assertThat(Wire.send(LOOPBACK, port, "DELETE", "/tasks/x", "Sec-Fetch-Site: cross-site\r\n", null).status())
                .isEqualTo(403);
        // The _form uploads take multipart/form-data (here a body without its part: 400), but not from another site.
        byte[] noPart = "--b--\r\n".getBytes(StandardCharsets.US_ASCII);
        assertThat(Wire.send(LOOPBACK, port, "POST", "/tasks/restore/form",
                "Content-Type: multipart/form-data; boundary=b\r\n", noPart).status()).isEqualTo(400);
        assertThat(Wire.send(LOOPBACK, port, "POST", "/tasks/restore/form", "Origin: https://evil.example\r\n"
                + "Content-Type: multipart/form-data; boundary=b\r\n", noPart).status()).isEqualTo(403);
        assertThat(Wire.send(LOOPBACK, port, "POST", "/tasks/restore/form", "Sec-Fetch-Site: cross-site\r\n"
                + "Content-Type: multipart/form-data; boundary=b\r\n", noPart).status()).isEqualTo(403);
        assertThat(Wire.send(LOOPBACK, port, "POST", "/tasks", "Content-Type: multipart/form-data; boundary=b\r\n",
                noPart).status()).isEqualTo(415);
        assertThat(taskCount()).isEqualTo(before);
        // The same origin, and reads from anywhere (the browser keeps their answers from the other site).
        assertThat(Wire.send(LOOPBACK, port, "POST", "/tasks", "Origin: http://localhost:" + port
                + "\r\nSec-Fetch-Site: same-origin\r\nContent-Type: application/json\r\n",
                "{}".getBytes(StandardCharsets.US_ASCII)).status()).isEqualTo(201);
        assertThat(Wire.get(LOOPBACK, port, "/tasks", "Origin: https://evil.example\r\n").status()).isEqualTo(200);
    }

    private int taskCount() throws IOException {
        String body = Wire.get(LOOPBACK, port, "/host/statistics", "").body();
        return Integer.parseInt(body.replaceAll(".*\"tasks\":([0-9]+).*", "$1"));
    }
}
