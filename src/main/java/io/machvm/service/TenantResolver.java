package io.machvm.service;

/** Tells which tenant the current call acts for. */
@FunctionalInterface
public interface TenantResolver {
    /** A resolver for a node without credentials: every call acts for {@link Tenant#DEFAULT}. */
    TenantResolver ANONYMOUS = () -> Tenant.DEFAULT;

    Tenant current();
}
