package io.machvm.security;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.springframework.security.core.authority.AuthorityUtils;
import org.springframework.security.oauth2.core.DefaultOAuth2AuthenticatedPrincipal;
import org.springframework.security.oauth2.core.OAuth2AuthenticatedPrincipal;
import org.springframework.security.oauth2.server.resource.introspection.BadOpaqueTokenException;
import org.springframework.security.oauth2.server.resource.introspection.OpaqueTokenIntrospector;

/**
 * Api-key mode: a bearer token is a tenant's key. Keys are kept only as SHA-256 digests and a presented key is
 * looked up by its digest, so the comparison's time says nothing about the keys.
 */
final class ApiKeyIntrospector implements OpaqueTokenIntrospector {
    private final Map<String, String> tenantByDigest = new HashMap<>();
    private final Set<String> adminTenants;

    ApiKeyIntrospector(Map<String, String> apiKeys, Set<String> adminTenants) {
        apiKeys.forEach((tenant, key) -> tenantByDigest.put(MachvmSecurityProperties.digestOf(tenant, key), tenant));
        this.adminTenants = adminTenants;
    }

    @Override
    public OAuth2AuthenticatedPrincipal introspect(String token) {
        String tenant = tenantByDigest.get(MachvmSecurityProperties.sha256Hex(token));
        if (tenant == null) {
            throw new BadOpaqueTokenException("the key is not one of machvm.security.api-keys");
        }
        List<String> authorities = adminTenants.contains(tenant)
                ? List.of(MachvmAuthorities.TENANT, MachvmAuthorities.ADMIN) : List.of(MachvmAuthorities.TENANT);
        return new DefaultOAuth2AuthenticatedPrincipal(tenant, Map.of("sub", tenant),
                AuthorityUtils.createAuthorityList(authorities));
    }
}
