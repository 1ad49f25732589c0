package io.machvm.security;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.coyote.http11.Http11NioProtocol;
import org.apache.tomcat.util.net.NioChannel;
import org.apache.tomcat.util.net.NioEndpoint;
import org.apache.tomcat.util.net.SocketWrapperBase;

/**
 * Tomcat's NIO HTTP/1.1 protocol with a limit on the connections one client address holds at once
 * ({@code machvm.connections.max-per-client}): a connection over it is closed as it is accepted, before a byte is read,
 * so that a client trickling headers over thousands of connections (slowloris) fills its own share and not
 * {@code server.tomcat.max-connections}.
 */
public class ClientLimitedProtocol extends Http11NioProtocol {

    public ClientLimitedProtocol() {
        super(new Endpoint());
    }

    /** 0 for no limit. */
    public void setMaxConnectionsPerClient(int max) {
        ((Endpoint) getEndpoint()).maxPerClient = max;
    }

    public int getMaxConnectionsPerClient() {
        return ((Endpoint) getEndpoint()).maxPerClient;
    }

    /** Connections closed at accept because their client was at its limit. */
    public long getRefusedConnections() {
        return ((Endpoint) getEndpoint()).refused.get();
    }

    static final class Endpoint extends NioEndpoint {
        volatile int maxPerClient;
        final AtomicLong refused = new AtomicLong();
        private final ConcurrentHashMap<InetAddress, AtomicInteger> perClient = new ConcurrentHashMap<>();
        private final ConcurrentHashMap<SocketChannel, InetAddress> clientOf = new ConcurrentHashMap<>();

        Endpoint() {
            // Every open connection passes through this map: put when accepted, remove when closed.
            connections = new Tracking();
        }

        @Override
        protected boolean setSocketOptions(SocketChannel socket) {
            int max = maxPerClient;
            if (max > 0) {
                InetAddress client = clientOf(socket);
                AtomicInteger open = client == null ? null : perClient.get(client);
                if (open != null && open.get() >= max) {
                    refused.incrementAndGet();
                    destroySocket(socket); // closes it and gives back its place under max-connections
                    return true;
                }
            }
            return super.setSocketOptions(socket);
        }

        private static InetAddress clientOf(SocketChannel socket) {
            try {
                SocketAddress remote = socket.getRemoteAddress();
                return remote instanceof InetSocketAddress inet ? inet.getAddress() : null;
            } catch (IOException e) {
                return null;
            }
        }

        private final class Tracking extends ConcurrentHashMap<SocketChannel, SocketWrapperBase<NioChannel>> {
            @Override
            public SocketWrapperBase<NioChannel> put(SocketChannel socket, SocketWrapperBase<NioChannel> wrapper) {
                SocketWrapperBase<NioChannel> previous = super.put(socket, wrapper);
                InetAddress client = clientOf(socket);
                if (previous == null && client != null && clientOf.putIfAbsent(socket, client) == null) {
                    perClient.computeIfAbsent(client, c -> new AtomicInteger()).incrementAndGet();
                }
                return previous;
            }

            @Override
            public SocketWrapperBase<NioChannel> remove(Object socket) {
                SocketWrapperBase<NioChannel> removed = super.remove(socket);
                InetAddress client = clientOf.remove(socket);
                if (client != null) {
                    perClient.computeIfPresent(client, (c, n) -> n.decrementAndGet() <= 0 ? null : n);
                }
                return removed;
            }
        }
    }
}
