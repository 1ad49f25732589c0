package io.machvm.security;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Set;
import org.springframework.core.convert.converter.Converter;
import org.springframework.security.authentication.AbstractAuthenticationToken;
import org.springframework.security.core.GrantedAuthority;
import org.springframework.security.core.authority.SimpleGrantedAuthority;
import org.springframework.security.oauth2.jwt.Jwt;
import org.springframework.security.oauth2.server.resource.InvalidBearerTokenException;
import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationToken;
import org.springframework.security.oauth2.server.resource.authentication.JwtGrantedAuthoritiesConverter;

/**
 * Jwt mode: the tenant is the claim {@code machvm.security.tenant-claim}; the scope {@code machvm.security.admin-scope}
 * or a tenant in {@code machvm.security.admin-tenants} makes the bearer an admin.
 */
final class TenantJwtConverter implements Converter<Jwt, AbstractAuthenticationToken> {
    private final String tenantClaim;
    private final String adminAuthority;
    private final Set<String> adminTenants;
    private final JwtGrantedAuthoritiesConverter scopes = new JwtGrantedAuthoritiesConverter();

    TenantJwtConverter(String tenantClaim, String adminScope, Set<String> adminTenants) {
        this.tenantClaim = tenantClaim;
        this.adminAuthority = "SCOPE_" + adminScope;
        this.adminTenants = adminTenants;
    }

    @Override
    public AbstractAuthenticationToken convert(Jwt jwt) {
        Object claim = jwt.getClaims().get(tenantClaim);
        String tenant = claim instanceof String s ? s : null;
        if (tenant == null || !MachvmSecurityProperties.TENANT_PATTERN.matcher(tenant).matches()) {
            throw new InvalidBearerTokenException("the token's claim '" + tenantClaim
                    + "' (machvm.security.tenant-claim) must name a tenant: 1 to 128 of [A-Za-z0-9._@+-]");
        }
        Collection<GrantedAuthority> authorities = new ArrayList<>(scopes.convert(jwt));
        authorities.add(new SimpleGrantedAuthority(MachvmAuthorities.TENANT));
        if (adminTenants.contains(tenant)
                || authorities.stream().anyMatch(a -> adminAuthority.equals(a.getAuthority()))) {
            authorities.add(new SimpleGrantedAuthority(MachvmAuthorities.ADMIN));
        }
        return new JwtAuthenticationToken(jwt, authorities, tenant);
    }
}
