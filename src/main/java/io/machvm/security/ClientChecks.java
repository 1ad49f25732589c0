package io.machvm.security;

import jakarta.servlet.http.HttpServletRequest;
import java.util.List;
import java.util.Locale;

/** Decisions on who a request comes from and for which site, for protected mode and the Host/Origin checks. */
final class ClientChecks {
    private ClientChecks() {
    }

    /** The liveness and readiness probes: answered for anyone, in every mode, without details. */
    static boolean isProbe(HttpServletRequest request) {
        String uri = request.getRequestURI();
        return uri.equals("/actuator/health/liveness") || uri.equals("/actuator/health/readiness");
    }

    /** The connection's peer (not affected by forwarding headers when {@link PeerAddressValve} ran). */
    static String peerAddress(HttpServletRequest request) {
        Object peer = request.getAttribute(PeerAddressValve.PEER_ADDRESS);
        return peer instanceof String s ? s : request.getRemoteAddr();
    }

    /**
     * Whether a proxy header names another client: as {@link PeerAddressValve} found the headers before any
     * {@code RemoteIpValve} rewrote them, else (no valve ran) from the headers.
     */
    static boolean forwarded(HttpServletRequest request) {
        if (request.getAttribute(PeerAddressValve.FORWARDED) instanceof Boolean forwarded) {
            return forwarded;
        }
        return request.getHeader("X-Forwarded-For") != null || request.getHeader("Forwarded") != null
                || request.getHeader("X-Real-IP") != null;
    }

    /** Whether a numeric address (as Tomcat reports it) is a loopback address: 127.0.0.0/8, ::1 or ::ffff:127.x. */
    static boolean isLoopback(String address) {
        if (address == null) {
            return false;
        }
        String a = address.toLowerCase(Locale.ROOT);
        if (a.startsWith("[") && a.endsWith("]")) {
            a = a.substring(1, a.length() - 1);
        }
        int zone = a.indexOf('%');
        if (zone >= 0) {
            a = a.substring(0, zone);
        }
        if (a.startsWith("::ffff:")) {
            a = a.substring("::ffff:".length());
        }
        return a.startsWith("127.") || a.equals("::1") || a.equals("0:0:0:0:0:0:0:1");
    }

    /** The host of a {@code Host} header value or authority, without the port, lower case; IPv6 keeps brackets. */
    static String hostOf(String authority) {
        String a = authority.trim().toLowerCase(Locale.ROOT);
        if (a.startsWith("[")) {
            int close = a.indexOf(']');
            return close < 0 ? a : a.substring(0, close + 1);
        }
        int colon = a.indexOf(':');
        String host = colon < 0 ? a : a.substring(0, colon);
        return host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
    }

    /**
     * Whether a {@code Host} may name this server: an IP literal (DNS rebinding needs a name), a loopback name, or a
     * name in {@code allowedHosts} ({@code name}, {@code *.suffix}, {@code *}).
     */
    static boolean hostAllowed(String host, List<String> allowedHosts) {
        if (host.isEmpty()) {
            return false;
        }
        if (host.startsWith("[") || isIpv4Literal(host)) {
            return true;
        }
        if (host.equals("localhost") || host.endsWith(".localhost")) {
            return true;
        }
        for (String allowed : allowedHosts) {
            String a = allowed.trim().toLowerCase(Locale.ROOT);
            if (a.equals("*") || a.equals(host) || (a.startsWith("*.") && host.endsWith(a.substring(1)))) {
                return true;
            }
        }
        return false;
    }

    /** Four groups of one to three digits separated by dots, as a {@code Host} header names a server by address. */
    static boolean isIpv4Literal(String host) {
        int groups = 0;
        int digits = 0;
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            if (c >= '0' && c <= '9') {
                if (++digits > 3) {
                    return false;
                }
            } else if (c == '.' && digits > 0 && groups < 3) {
                groups++;
                digits = 0;
            } else {
                return false;
            }
        }
        return groups == 3 && digits > 0;
    }

    /** Methods that change nothing, which a cross-site page may trigger harmlessly (it cannot read the answer). */
    static boolean isSafeMethod(String method) {
        return method.equals("GET") || method.equals("HEAD") || method.equals("OPTIONS") || method.equals("TRACE");
    }

    /** The content types an HTML form (or a no-CORS fetch) can send without a preflight. */
    static boolean isFormContentType(String contentType) {
        if (contentType == null) {
            return false;
        }
        String type = contentType.toLowerCase(Locale.ROOT);
        int semicolon = type.indexOf(';');
        type = (semicolon < 0 ? type : type.substring(0, semicolon)).trim();
        return type.equals("application/x-www-form-urlencoded") || type.equals("multipart/form-data")
                || type.equals("text/plain");
    }

    /** Whether {@code origin} ({@code scheme://host[:port]}) is the origin of a request to {@code hostHeader}. */
    static boolean sameOrigin(String origin, String hostHeader) {
        if (hostHeader == null) {
            return false;
        }
        String o = origin.trim().toLowerCase(Locale.ROOT);
        int scheme = o.indexOf("://");
        if (scheme < 0) {
            return false;
        }
        String authority = o.substring(scheme + 3);
        String h = hostHeader.trim().toLowerCase(Locale.ROOT);
        return authority.equals(h) || withDefaultPort(authority, o.substring(0, scheme)).equals(withDefaultPort(h,
                o.substring(0, scheme)));
    }

    private static String withDefaultPort(String authority, String scheme) {
        boolean hasPort = authority.startsWith("[") ? authority.contains("]:") : authority.contains(":");
        return hasPort ? authority : authority + (scheme.equals("https") ? ":443" : ":80");
    }
}
