package io.machvm.security;

import io.machvm.service.Tenant;
import io.machvm.service.TenantResolver;
import org.springframework.security.authentication.AnonymousAuthenticationToken;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.GrantedAuthority;
import org.springframework.security.core.context.SecurityContextHolder;

/**
 * The tenant of the current call from Spring Security's context: an authenticated caller's name, with the admin
 * authority; anonymous callers (and work outside a request, such as restoring images at start-up) act for
 * {@link Tenant#DEFAULT}.
 */
public final class SecurityTenantResolver implements TenantResolver {

    @Override
    public Tenant current() {
        Authentication auth = SecurityContextHolder.getContext().getAuthentication();
        if (auth == null || auth instanceof AnonymousAuthenticationToken || !auth.isAuthenticated()) {
            return Tenant.DEFAULT;
        }
        boolean admin = false;
        for (GrantedAuthority authority : auth.getAuthorities()) {
            if (MachvmAuthorities.ADMIN.equals(authority.getAuthority())) {
                admin = true;
                break;
            }
        }
        String name = auth.getName();
        if (Tenant.DEFAULT.name().equals(name) && !admin) {
            return Tenant.DEFAULT;
        }
        return new Tenant(name, admin);
    }
}
