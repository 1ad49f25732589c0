package io.machvm.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * Mode {@code none}: anonymous access from anywhere, with a warning at start-up; the Host and cross-site checks still
 * hold, and health details stay hidden from anonymous callers.
 */
@ExtendWith(OutputCaptureExtension.class)
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"machvm.store.capacity=64MB", "machvm.store.slab-size=16MB", "machvm.security.mode=none",
                "machvm.security.allowed-hosts=machvm.example,*.svc.cluster.local"})
class NoneModeTest {
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    @LocalServerPort
    int port;

    @Test
    void startUpWarns(CapturedOutput output) {
        assertThat(output.getAll()).contains("machvm.security.mode=none");
    }

    @Test
    void anyoneIsServed() throws IOException {
        InetAddress outside = Wire.nonLoopbackAddress();
        assumeTrue(outside != null, "this machine has no non-loopback address");
        assertThat(Wire.get(outside, port, "/tasks", "Host: " + outside.getHostAddress() + ":" + port + "\r\n")
                .status()).isEqualTo(200);
        assertThat(Wire.send(outside, port, "POST", "/tasks", "Host: machvm.example\r\n", new byte[0]).status())
                .isEqualTo(201);
        assertThat(Wire.get(outside, port, "/tasks", "Host: machvm.ns.svc.cluster.local\r\n").status())
                .isEqualTo(200);
    }

    @Test
    void hostAndCrossSiteChecksHold() throws IOException {
        assertThat(Wire.get(LOOPBACK, port, "/tasks", "Host: evil.example\r\n").status()).isEqualTo(403);
        assertThat(Wire.get(LOOPBACK, port, "/tasks", "Host: machvm.example.evil.example\r\n").status())
                .isEqualTo(403);
        assertThat(Wire.send(LOOPBACK, port, "POST", "/tasks", "Content-Type: multipart/form-data; boundary=x\r\n",
                new byte[0]).status()).isEqualTo(415);
        assertThat(Wire.send(LOOPBACK, port, "POST", "/tasks", "Origin: http://evil.example\r\n", new byte[0])
                .status()).isEqualTo(403);
    }

    @Test
    void healthDetailsAreHiddenFromAnonymousCallers() throws IOException {
        Wire.Answer health = Wire.get(LOOPBACK, port, "/actuator/health", "");
        assertThat(health.status()).isEqualTo(200);
        assertThat(health.body()).doesNotContain("components").doesNotContain(System.getProperty("user.dir"));
    }
}
