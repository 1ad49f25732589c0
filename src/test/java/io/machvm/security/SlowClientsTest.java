package io.machvm.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.catalina.connector.Connector;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.tomcat.TomcatWebServer;
import org.springframework.boot.web.server.servlet.context.ServletWebServerApplicationContext;
import org.junit.jupiter.api.Timeout;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * Slow clients: one address trickling request headers over more connections than the server takes keeps only its own
 * share ({@code machvm.connections.max-per-client}) while another client is served at once; a stalled header or body
 * ends its connection after the idle timeout. The attacker connects from 127.0.0.2, another loopback address.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"machvm.store.capacity=64MB", "machvm.store.slab-size=16MB",
                "server.tomcat.max-connections=60", "server.tomcat.accept-count=20",
                "server.tomcat.connection-timeout=5s", "machvm.connections.body-idle-timeout=5s",
                "machvm.connections.max-per-client=20"})
class SlowClientsTest {
    /** As many as the server takes and queues (max-connections plus accept-count). */
    private static final int ATTACKERS = 80;

    @LocalServerPort
    int port;

    @Autowired
    ServletWebServerApplicationContext context;

    @Test
    void theConnectorLimitsConnectionsPerClient() {
        Connector connector = ((TomcatWebServer) context.getWebServer()).getTomcat().getConnector();
        assertThat(connector.getProtocolHandler()).isInstanceOfSatisfying(ClientLimitedProtocol.class,
                protocol -> {
                    assertThat(protocol.getMaxConnectionsPerClient()).isEqualTo(20);
                    assertThat(protocol.getConnectionUploadTimeout()).isEqualTo(5_000);
                    assertThat(protocol.getDisableUploadTimeout()).isFalse();
                    assertThat(protocol.getConnectionTimeout()).isEqualTo(5_000);
                    assertThat(protocol.getMaxConnections()).isEqualTo(60);
                });
    }

    private Socket attacker() throws IOException {
        Socket s = new Socket();
        s.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.2"), 0));
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 2_000);
        s.getOutputStream().write(("GET /tasks HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").getBytes(
                StandardCharsets.US_ASCII));
        return s;
    }

    @Test
    void oneClientTricklingHeadersOverManyConnectionsDoesNotShutOutOthers() throws Exception {
        List<Socket> slow = new ArrayList<>();
        ScheduledExecutorService trickle = Executors.newSingleThreadScheduledExecutor();
        try {
            for (int i = 0; i < ATTACKERS; i++) {
                try {
                    slow.add(attacker());
                } catch (IOException refusedAtConnect) {
                    // the backlog is full: also a refusal
                }
            }
            trickle.scheduleAtFixedRate(() -> {
                for (Socket s : slow) {
                    try {
                        s.getOutputStream().write('a');
                    } catch (IOException closed) {
                        // closed by the server
                    }
                }
            }, 0, 300, TimeUnit.MILLISECONDS);
            Thread.sleep(1_000);
            long start = System.nanoTime();
            // Without the limit the attacker holds every connection for as long as it trickles: no wait is enough.
            String answer = get(InetAddress.getLoopbackAddress(), "/host/page-size", 15_000);
            assertThat(answer).startsWith("HTTP/1.1 200");
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(15_000);
            // The attacker kept no more than its share.
            int open = 0;
            for (Socket s : slow) {
                if (!closedByServer(s)) {
                    open++;
                }
            }
            assertThat(open).isLessThanOrEqualTo(20);
        } finally {
            trickle.shutdownNow();
            for (Socket s : slow) {
                s.close();
            }
        }
    }

    @Test
    void aStalledHeaderOrBodyEndsAfterTheIdleTimeout() throws Exception {
        try (Socket header = new Socket(InetAddress.getLoopbackAddress(), port);
                Socket body = new Socket(InetAddress.getLoopbackAddress(), port)) {
            header.getOutputStream().write("GET /tasks HTTP/1.1\r\nHost: localhost\r\n".getBytes(
                    StandardCharsets.US_ASCII));
            assertThat(get(InetAddress.getLoopbackAddress(), "/tasks", 5_000)).startsWith("HTTP/1.1 200");
            String create = "PUT /tasks/stalled HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 100\r\n\r\n{\"name\":";
            body.getOutputStream().write(create.getBytes(StandardCharsets.US_ASCII));
            long start = System.nanoTime();
            header.setSoTimeout(20_000);
            body.setSoTimeout(20_000);
            drain(header.getInputStream());
            drain(body.getInputStream());
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(15_000);
        }
    }

    /** Reads until the server closes the connection (an answer to a broken request may come first). */
    private static void drain(InputStream in) throws IOException {
        byte[] buffer = new byte[4096];
        try {
            while (in.read(buffer) >= 0) {
                // discard
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("the server kept an idle connection open", e);
        } catch (IOException reset) {
            // closed with a reset: also closed
        }
    }

    private static boolean closedByServer(Socket s) {
        try {
            s.setSoTimeout(50);
            return s.getInputStream().read() < 0;
        } catch (SocketTimeoutException stillOpen) {
            return false;
        } catch (IOException reset) {
            return true;
        }
    }

    private String get(InetAddress from, String path, int timeoutMillis) throws IOException {
        try (Socket s = new Socket()) {
            s.setSoTimeout(timeoutMillis);
            s.connect(new InetSocketAddress(from, port), timeoutMillis);
            OutputStream out = s.getOutputStream();
            out.write(("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").getBytes(
                    StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }
}
