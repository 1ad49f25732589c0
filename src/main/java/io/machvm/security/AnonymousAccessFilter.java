package io.machvm.security;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.List;
import org.springframework.security.authentication.UsernamePasswordAuthenticationToken;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.authority.AuthorityUtils;
import org.springframework.security.core.context.SecurityContext;
import org.springframework.security.core.context.SecurityContextHolder;
import org.springframework.security.core.context.SecurityContextHolderStrategy;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * The checks of the modes without credentials ({@code protected} and {@code none}), where whoever reaches the port is
 * trusted and so a browser must not be turned into such a client:
 * <ul>
 * <li>protected mode answers only clients on loopback (the connection's peer, never a forwarding header), except the
 * liveness and readiness probes; a loopback client is the node's operator and so an admin;</li>
 * <li>{@code Host} must be an IP literal, a loopback name or in {@code machvm.security.allowed-hosts}: a page whose
 * name was rebound to this server's address sends its own name;</li>
 * <li>a request that changes something must not come from another site: no foreign {@code Origin}, no
 * {@code Sec-Fetch-Site} other than {@code same-origin} or {@code none}; and no form content type, which
 * {@link FormContentInterceptor} refuses once the path and method are known to exist.</li>
 * </ul>
 * A call already authenticated with the cluster secret ({@link ClusterSecretFilter}) passes: it comes from a shard,
 * which checked its client, or from the operator, maybe on another machine, and no browser sends the secret.
 */
final class AnonymousAccessFilter extends OncePerRequestFilter {
    static final String CONFIGURE = "Set machvm.security.mode=api-key with machvm.security.api-keys.<tenant>=<key> "
            + "(environment MACHVM_SECURITY_APIKEYS_<TENANT>) or machvm.security.mode=jwt to require credentials, or "
            + "machvm.security.mode=none to allow anonymous access from anywhere (see README.md, Security).";

    private final boolean loopbackOnly;
    private final List<String> allowedHosts;
    private final SecurityContextHolderStrategy contexts = SecurityContextHolder.getContextHolderStrategy();

    AnonymousAccessFilter(boolean loopbackOnly, List<String> allowedHosts) {
        this.loopbackOnly = loopbackOnly;
        this.allowedHosts = allowedHosts;
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        Authentication authenticated = contexts.getContext().getAuthentication();
        if (authenticated != null && authenticated.isAuthenticated()) {
            // a shard's call with the cluster secret: from another machine maybe, and no browser's
            chain.doFilter(request, response);
            return;
        }
        boolean probe = ClientChecks.isProbe(request);
        boolean local = false;
        if (loopbackOnly) {
            String peer = ClientChecks.peerAddress(request);
            local = ClientChecks.isLoopback(peer) && !ClientChecks.forwarded(request);
            if (!local && !probe) {
                SecurityProblems.forbidden(request, response, "machvm is in protected mode "
                        + "(machvm.security.mode=protected, the default) and answers only clients on loopback"
                        + (ClientChecks.isLoopback(peer) ? " that no proxy forwards" : "") + ". " + CONFIGURE);
                return;
            }
        }
        String host = request.getHeader("Host");
        if (host != null && !ClientChecks.hostAllowed(ClientChecks.hostOf(host), allowedHosts)) {
            SecurityProblems.forbidden(request, response, "Host '" + ClientChecks.hostOf(host) + "' does not name "
                    + "this server: without credentials only IP addresses, localhost and the names in "
                    + "machvm.security.allowed-hosts are accepted (a DNS-rebinding page sends its own name). "
                    + "Add the name to machvm.security.allowed-hosts, or require credentials.");
            return;
        }
        if (!ClientChecks.isSafeMethod(request.getMethod())) {
            String origin = request.getHeader("Origin");
            String site = request.getHeader("Sec-Fetch-Site");
            if ((origin != null && !ClientChecks.sameOrigin(origin, host))
                    || (site != null && !site.equals("same-origin") && !site.equals("none"))) {
                SecurityProblems.forbidden(request, response, "cross-site requests that change state are refused "
                        + "without credentials (Origin " + (origin == null ? "(none)" : "'" + origin + "'")
                        + ", Sec-Fetch-Site " + (site == null ? "(none)" : "'" + site + "'") + ")");
                return;
            }
        }
        if (local) {
            SecurityContext context = contexts.createEmptyContext();
            context.setAuthentication(UsernamePasswordAuthenticationToken.authenticated(
                    io.machvm.service.Tenant.DEFAULT.name(), null,
                    AuthorityUtils.createAuthorityList(MachvmAuthorities.TENANT, MachvmAuthorities.ADMIN)));
            contexts.setContext(context);
        }
        chain.doFilter(request, response);
    }
}
