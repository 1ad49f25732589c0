package io.machvm.security;

/** How callers are authenticated ({@code machvm.security.mode}). */
public enum SecurityMode {
    /** The default: anonymous access, answered only for loopback clients (like Redis's protected mode). */
    PROTECTED,
    /** {@code Authorization: Bearer <key>} with keys per tenant from {@code machvm.security.api-keys}. */
    API_KEY,
    /** An OAuth2 resource server: JWT bearer tokens checked with Spring Boot's {@code spring.security.oauth2.*}. */
    JWT,
    /** Anonymous access from anywhere; only when set explicitly. */
    NONE;

    /** Whether callers must present credentials. */
    public boolean authenticates() {
        return this == API_KEY || this == JWT;
    }

    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }
}
