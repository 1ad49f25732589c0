package io.machvm.security;

import io.machvm.cluster.ClusterProperties;
import io.machvm.service.Tenant;
import java.util.List;
import org.springframework.security.authentication.AuthenticationManager;
import org.springframework.security.authentication.BadCredentialsException;
import org.springframework.security.authentication.UsernamePasswordAuthenticationToken;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.authority.AuthorityUtils;
import org.springframework.security.web.authentication.AuthenticationFilter;
import org.springframework.security.web.authentication.preauth.PreAuthenticatedAuthenticationToken;

/**
 * Authenticates the calls that carry the cluster secret ({@value ClusterProperties#SECRET_HEADER}), in every mode:
 * the shards' own calls to each other (handoff, the table) and the operator's {@code /cluster} steps. Such a call
 * acts as the node's operator, an admin in tenant {@code default}, as a loopback client does in protected mode.
 * A shard that forwards the request of a client without credentials (modes {@code protected} and {@code none}) sends
 * the secret with {@value ClusterProperties#CALLER_HEADER}: {@value ClusterProperties#ANONYMOUS_CALLER} when that client was no admin, and the call acts as
 * that client. Requests with credentials are forwarded with them, and with the secret and
 * {@value ClusterProperties#FORWARDED_CALLER} as the caller: the client's credentials then authenticate the call, so
 * a shard never acts for a client with more rights than the client has.
 *
 * <p>The secret is compared by its SHA-256 digest ({@link ClusterProperties#isSecret}): in constant time, whatever its
 * length. It appears in no message.
 */
final class ClusterSecretFilter extends AuthenticationFilter {
    ClusterSecretFilter(String secret) {
        super((AuthenticationManager) authentication -> authenticate(secret, authentication), request -> {
            String presented = request.getHeader(ClusterProperties.SECRET_HEADER);
            if (presented == null) {
                return null; // not a cluster call: the mode's own authentication decides
            }
            String caller = request.getHeader(ClusterProperties.CALLER_HEADER);
            if (ClusterProperties.FORWARDED_CALLER.equals(caller)) {
                // a shard forwarding a client's request with the client's own credentials: those authenticate it;
                // the secret only marks the call as a shard's (checked where the cluster's headers are read)
                return null;
            }
            return new PreAuthenticatedAuthenticationToken(caller == null ? "" : caller, presented);
        });
        // authenticated: go on with the request (the default would redirect, as after a form login)
        setSuccessHandler((request, response, authentication) -> {
        });
        setFailureHandler((request, response, e) -> SecurityProblems.unauthorized(request, response,
                "Bearer realm=\"machvm\"", e.getMessage()));
    }

    private static Authentication authenticate(String secret, Authentication presented) {
        if (!ClusterProperties.isSecret(secret, (String) presented.getCredentials())) {
            throw new BadCredentialsException("the header " + ClusterProperties.SECRET_HEADER
                    + " does not hold this cluster's secret (machvm.cluster.secret)");
        }
        List<String> authorities = switch ((String) presented.getPrincipal()) {
            case "" -> List.of(MachvmAuthorities.TENANT, MachvmAuthorities.ADMIN);
            case ClusterProperties.ANONYMOUS_CALLER -> List.of(MachvmAuthorities.TENANT);
            default -> throw new BadCredentialsException("the header " + ClusterProperties.CALLER_HEADER
                    + " must be " + ClusterProperties.ANONYMOUS_CALLER + " or absent");
        };
        return UsernamePasswordAuthenticationToken.authenticated(Tenant.DEFAULT.name(), null,
                AuthorityUtils.createAuthorityList(authorities));
    }
}
