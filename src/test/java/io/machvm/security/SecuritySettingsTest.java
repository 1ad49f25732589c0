package io.machvm.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machvm.config.InvalidSettingException;
import io.machvm.config.QuotaProperties;
import io.machvm.service.TenantQuotas;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.core.env.MutablePropertySources;
import org.springframework.core.env.SystemEnvironmentPropertySource;

/**
 * The security and quota settings as the Helm chart passes them, from environment variables: keys per tenant from
 * {@code MACHVM_SECURITY_APIKEYS_<TENANT>}, lists comma-separated; and the values refused at start-up.
 */
class SecuritySettingsTest {

    private static Binder environment(Map<String, Object> variables) {
        MutablePropertySources sources = new MutablePropertySources();
        sources.addFirst(new SystemEnvironmentPropertySource("systemEnvironment", variables));
        return new Binder(ConfigurationPropertySources.from(sources));
    }

    @Test
    void keysPerTenantAndListsBindFromEnvironmentVariables() {
        MachvmSecurityProperties p = environment(Map.of("MACHVM_SECURITY_MODE", "api-key",
                "MACHVM_SECURITY_APIKEYS_ACME", "acme-key-0123456789abcdef",
                "MACHVM_SECURITY_APIKEYS_TEAM_B", "{sha256}" + "ab".repeat(32),
                "MACHVM_SECURITY_ADMINTENANTS", "ops,acme",
                "MACHVM_SECURITY_ALLOWEDHOSTS", "machvm.example,*.svc.cluster.local"))
                .bind("machvm.security", MachvmSecurityProperties.class).get();
        assertThat(p.securityMode()).isEqualTo(SecurityMode.API_KEY);
        assertThat(p.apiKeys()).containsOnlyKeys("acme", "team.b");
        assertThat(p.adminTenants()).containsExactlyInAnyOrder("ops", "acme");
        assertThat(p.allowedHosts()).containsExactly("machvm.example", "*.svc.cluster.local");
    }

    @Test
    void keysBindFromASecretMountedAsAConfigTree(@org.junit.jupiter.api.io.TempDir java.nio.file.Path root)
            throws java.io.IOException {
        java.nio.file.Path keys = java.nio.file.Files.createDirectories(root.resolve("machvm/security/api-keys"));
        java.nio.file.Files.writeString(keys.resolve("Team-A"), "team-a-key-0123456789");
        MutablePropertySources sources = new MutablePropertySources();
        sources.addFirst(new org.springframework.boot.env.ConfigTreePropertySource("keys", root));
        MachvmSecurityProperties p = new Binder(ConfigurationPropertySources.from(sources))
                .bind("machvm.security", MachvmSecurityProperties.class).get();
        assertThat(p.apiKeys()).containsOnlyKeys("Team-A");
        assertThat(p.apiKeys().get("Team-A")).isEqualTo("team-a-key-0123456789");
    }

    @Test
    void quotasBindWithPerTenantOverrides() {
        QuotaProperties q = environment(Map.of("MACHVM_QUOTA_MAXTASKS", "100",
                "MACHVM_QUOTA_MAXRESIDENTBYTES", "256MB",
                "MACHVM_QUOTA_TENANTS_BIG_MAXTASKS", "1000"))
                .bind("machvm.quota", QuotaProperties.class).get();
        assertThat(q.defaults()).isEqualTo(new TenantQuotas.Limits(100, 256L << 20, TenantQuotas.UNLIMITED));
        assertThat(q.overrides()).containsEntry("big", new TenantQuotas.Limits(1000, 256L << 20,
                TenantQuotas.UNLIMITED));
    }

    @Test
    void unusableValuesAreRefused() {
        assertThatThrownBy(() -> new MachvmSecurityProperties("open", null, "sub", null, "machvm:admin", null))
                .isInstanceOf(InvalidSettingException.class).hasMessageContaining("machvm.security.mode");
        assertThatThrownBy(() -> new MachvmSecurityProperties("api-key", null, "sub", null, "machvm:admin", null))
                .isInstanceOf(InvalidSettingException.class).hasMessageContaining("machvm.security.api-keys");
        assertThatThrownBy(() -> new MachvmSecurityProperties("api-key", Map.of("acme", "short"), "sub", null,
                "machvm:admin", null)).hasMessageContaining("at least 16");
        assertThatThrownBy(() -> new MachvmSecurityProperties("api-key", Map.of("acme", "{sha256}xyz"), "sub", null,
                "machvm:admin", null)).hasMessageContaining("64 hex digits");
        assertThatThrownBy(() -> new MachvmSecurityProperties("api-key", Map.of("a", "same-key-0123456789",
                "b", "same-key-0123456789"), "sub", null, "machvm:admin", null))
                .hasMessageContaining("another tenant");
        assertThatThrownBy(() -> new MachvmSecurityProperties("api-key", Map.of("a~b", "key-0123456789abcdef"),
                "sub", null, "machvm:admin", null)).hasMessageContaining("tenant names");
        assertThat(new MachvmSecurityProperties("Api-Key", Map.of("acme", "key-0123456789abcdef"), "sub", null,
                "machvm:admin", null).securityMode()).isEqualTo(SecurityMode.API_KEY);
    }

    @Test
    void hostAndOriginRules() {
        assertThat(ClientChecks.hostAllowed(ClientChecks.hostOf("evil.example:8080"), java.util.List.of())).isFalse();
        assertThat(ClientChecks.hostAllowed(ClientChecks.hostOf("LOCALHOST.:8080"), java.util.List.of())).isTrue();
        assertThat(ClientChecks.hostAllowed(ClientChecks.hostOf("10.1.2.3:8080"), java.util.List.of())).isTrue();
        assertThat(ClientChecks.hostAllowed(ClientChecks.hostOf("[fd00::2]:8080"), java.util.List.of())).isTrue();
        assertThat(ClientChecks.hostAllowed("a.svc.cluster.local", java.util.List.of("*.svc.cluster.local")))
                .isTrue();
        assertThat(ClientChecks.hostAllowed("svc.cluster.local.evil", java.util.List.of("*.svc.cluster.local")))
                .isFalse();
        assertThat(ClientChecks.sameOrigin("http://localhost:8080", "localhost:8080")).isTrue();
        assertThat(ClientChecks.sameOrigin("http://machvm.example", "machvm.example:80")).isTrue();
        assertThat(ClientChecks.sameOrigin("https://machvm.example", "machvm.example:80")).isFalse();
        assertThat(ClientChecks.sameOrigin("null", "localhost:8080")).isFalse();
        assertThat(ClientChecks.isLoopback("127.0.0.2")).isTrue();
        assertThat(ClientChecks.isLoopback("0:0:0:0:0:0:0:1")).isTrue();
        assertThat(ClientChecks.isLoopback("::ffff:127.0.0.1")).isTrue();
        assertThat(ClientChecks.isLoopback("192.0.2.2")).isFalse();
        assertThat(ClientChecks.isLoopback("1270.0.0.1")).isFalse();
    }
}
