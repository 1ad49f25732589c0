package io.machvm.security;

/** The authorities a caller can hold. */
public final class MachvmAuthorities {
    /** Every authenticated caller: the authentication's name is its tenant. */
    public static final String TENANT = "ROLE_TENANT";
    /** Sees and acts on every tenant's tasks and reads the operations endpoints. */
    public static final String ADMIN = "ROLE_ADMIN";

    private MachvmAuthorities() {
    }
}
