package io.machvm.security;

import io.machvm.config.InvalidSettingException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * The {@code machvm.security.*} settings, checked when bound.
 *
 * @param mode          {@code protected} (default), {@code api-key}, {@code jwt} or {@code none}
 * @param apiKeys       tenant name to key: the key itself or {@code {sha256}<64 hex digits>} of it ({@code api-key})
 * @param tenantClaim   the JWT claim that names the tenant ({@code jwt})
 * @param adminTenants  tenants that see and act on every tenant's tasks and read the operations endpoints
 * @param adminScope    a JWT scope that makes its bearer an admin ({@code jwt})
 * @param allowedHosts  host names accepted in {@code Host} besides loopback names and IP literals ({@code protected}
 *                      and {@code none}): exact names, {@code *.suffix}, or {@code *} for any
 */
@ConfigurationProperties("machvm.security")
public record MachvmSecurityProperties(@DefaultValue("protected") String mode, Map<String, String> apiKeys,
        @DefaultValue("sub") String tenantClaim, Set<String> adminTenants, @DefaultValue("machvm:admin") String adminScope,
        List<String> allowedHosts) {

    /**
     * Tenant names: 1 to 128 of {@code [A-Za-z0-9._@+-]}, not {@code .} or {@code ..}. They name image files and
     * appear in qualified task ids ({@code tenant~id}), so {@code ~} and {@code /} are out.
     */
    public static final Pattern TENANT_PATTERN = io.machvm.service.TaskRegistry.TENANT_PATTERN;

    public MachvmSecurityProperties {
        apiKeys = apiKeys == null ? Map.of() : Map.copyOf(apiKeys);
        adminTenants = adminTenants == null ? Set.of() : Set.copyOf(adminTenants);
        allowedHosts = allowedHosts == null ? List.of() : List.copyOf(allowedHosts);
        SecurityMode parsed = parseMode(mode);
        if (tenantClaim == null || tenantClaim.isBlank()) {
            throw new InvalidSettingException("machvm.security.tenant-claim",
                    "machvm.security.tenant-claim must name a JWT claim");
        }
        for (String tenant : adminTenants) {
            checkTenant("machvm.security.admin-tenants", tenant);
        }
        Set<String> digests = new java.util.HashSet<>();
        for (Map.Entry<String, String> key : apiKeys.entrySet()) {
            checkTenant("machvm.security.api-keys." + key.getKey(), key.getKey());
            String digest = digestOf(key.getKey(), key.getValue());
            if (!digests.add(digest)) {
                throw new InvalidSettingException("machvm.security.api-keys." + key.getKey(),
                        "machvm.security.api-keys." + key.getKey() + " is the key of another tenant too");
            }
        }
        if (parsed == SecurityMode.API_KEY && apiKeys.isEmpty()) {
            throw new InvalidSettingException("machvm.security.api-keys",
                    "machvm.security.mode=api-key needs at least one machvm.security.api-keys.<tenant>=<key>",
                    "Set machvm.security.api-keys.<tenant> (environment: MACHVM_SECURITY_APIKEYS_<TENANT>) to a key "
                            + "or to {sha256}<hex> of it, e.g. from a Kubernetes Secret (see README.md, Security).");
        }
    }

    private static SecurityMode parseMode(String mode) {
        String normalized = mode == null ? "" : mode.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        for (SecurityMode m : SecurityMode.values()) {
            if (m.name().equals(normalized)) {
                return m;
            }
        }
        throw new InvalidSettingException("machvm.security.mode",
                "machvm.security.mode must be protected, api-key, jwt or none, not '" + mode + "'");
    }

    private static void checkTenant(String setting, String tenant) {
        if (tenant == null || !TENANT_PATTERN.matcher(tenant).matches()) {
            throw new InvalidSettingException(setting, setting + ": tenant names are 1 to 128 of [A-Za-z0-9._@+-], "
                    + "not '" + tenant + "'");
        }
    }

    /** The SHA-256 (hex) a presented key must hash to for {@code tenant}. */
    static String digestOf(String tenant, String configured) {
        String setting = "machvm.security.api-keys." + tenant;
        if (configured == null || configured.isEmpty()) {
            throw new InvalidSettingException(setting, setting + " is empty");
        }
        if (configured.startsWith("{sha256}")) {
            String hex = configured.substring("{sha256}".length()).toLowerCase(Locale.ROOT);
            if (!hex.matches("[0-9a-f]{64}")) {
                throw new InvalidSettingException(setting, setting + " must be {sha256} and 64 hex digits");
            }
            return hex;
        }
        if (configured.length() < 16) {
            throw new InvalidSettingException(setting, setting + " must be at least 16 characters long",
                    "Use a random key, e.g. openssl rand -hex 32.");
        }
        return sha256Hex(configured);
    }

    static String sha256Hex(String key) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(key.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public SecurityMode securityMode() {
        return parseMode(mode);
    }
}
