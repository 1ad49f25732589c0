package io.machvm.security;

import jakarta.servlet.ServletException;
import java.io.IOException;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.valves.ValveBase;

/**
 * Records the address of the connection's peer, and whether the request carried forwarding headers, before any
 * {@code RemoteIpValve} (server.forward-headers-strategy, on by default on Kubernetes) replaces the remote address with
 * one a client can write into {@code X-Forwarded-For}. Protected mode decides on these, never on a header.
 */
public final class PeerAddressValve extends ValveBase {
    /** Request attribute: the peer's address as a string. */
    static final String PEER_ADDRESS = PeerAddressValve.class.getName() + ".peer";
    /** Request attribute: whether a proxy header names another client ({@code Boolean}, set on every request). */
    static final String FORWARDED = PeerAddressValve.class.getName() + ".forwarded";

    public PeerAddressValve() {
        super(true);
    }

    @Override
    public void invoke(Request request, Response response) throws IOException, ServletException {
        request.setAttribute(PEER_ADDRESS, request.getRemoteAddr());
        request.setAttribute(FORWARDED, request.getHeader("X-Forwarded-For") != null
                || request.getHeader("Forwarded") != null || request.getHeader("X-Real-IP") != null);
        getNext().invoke(request, response);
    }
}
