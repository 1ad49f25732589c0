package io.machvm.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.cluster.Placement;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A shard that forwards a call to the owner, and the owner stops during it (it reads the request and closes the
 * connection without an answer, as a killed process does): the caller gets a 503 with Retry-After that says the call
 * may or may not have taken effect, not a 500 with an incident.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ShardZeroOfTwo
class ClusterOwnerStopsMidCallTest {
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final int PORT = ClusterApiKeyModeTest.freePort();
    private static final int OWNER = ClusterApiKeyModeTest.freePort();

    private ServerSocket owner;
    private final AtomicInteger calls = new AtomicInteger();

    @DynamicPropertySource
    static void shards(DynamicPropertyRegistry registry) {
        ClusterApiKeyModeTest.twoShards(registry, PORT, OWNER);
    }

    /** Shard 1: takes each call's head and hangs up. */
    @BeforeAll
    void ownerThatStopsMidCall() throws IOException {
        owner = new ServerSocket(OWNER, 50, LOOPBACK);
        Thread.ofPlatform().daemon().name("owner-that-stops").start(() -> {
            while (!owner.isClosed()) {
                try (Socket call = owner.accept()) {
                    InputStream in = call.getInputStream();
                    int matched = 0;
                    while (matched < 4) {
                        int b = in.read();
                        if (b < 0) {
                            break;
                        }
                        matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : (b == '\r' ? 1 : 0);
                    }
                    calls.incrementAndGet();
                } catch (IOException e) {
                    // closed
                }
            }
        });
    }

    @AfterAll
    void stopOwner() throws IOException {
        owner.close();
    }

    /** An id of the default tenant that shard 1 owns (slots 8192-16383 of the even table of 2). */
    private static String onShard1() {
        for (int i = 0; ; i++) {
            String id = "gone-" + i;
            if (Placement.slot("default", id) >= 8192) {
                return id;
            }
        }
    }

    @Test
    void aCallWhoseOwnerHangsUpIsA503ThatSaysItMayHaveHappened() throws IOException {
        String id = onShard1();
        Wire.Answer read = Wire.send(LOOPBACK, PORT, "GET", "/tasks/" + id, "", new byte[0]);
        assertStopped(read);
        Wire.Answer write = Wire.send(LOOPBACK, PORT, "PUT", "/tasks/" + id + "/memory/0x100000000",
                "Content-Type: application/octet-stream\r\n", "bytes".getBytes(StandardCharsets.US_ASCII));
        assertStopped(write);
        assertThat(calls.get()).as("the calls reached the owner").isGreaterThanOrEqualTo(2);
    }

    private static void assertStopped(Wire.Answer answer) {
        assertThat(answer.status()).as(answer.body()).isEqualTo(503);
        assertThat(answer.header("Retry-After")).isEqualTo("1");
        assertThat(answer.header("Content-Type")).startsWith("application/problem+json");
        assertThat(answer.body()).contains("\"kern\":\"MACH_SEND_TIMED_OUT\"",
                "stopped during the call, which may or may not have taken effect there; retry")
                .doesNotContain("incident", "Exception");
    }
}
