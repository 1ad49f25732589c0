package io.machvm.config;

import io.machvm.service.TaskRegistry;
import io.machvm.service.TenantQuotas;
import java.util.HashMap;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;

/**
 * Quotas per tenant ({@code machvm.quota.*}): defaults for every tenant, and {@code machvm.quota.tenants.<tenant>.*}
 * for one tenant, each setting falling back to the default. Unset means unlimited (the node's own limits still hold).
 *
 * @param maxTasks          most tasks a tenant holds at once
 * @param maxResidentBytes  most resident memory of a tenant's tasks (e.g. {@code 256MB}); pages count 4 or 16 KiB
 * @param maxMapEntries     most map entries over a tenant's tasks
 * @param tenants           overrides by tenant name
 * @param metricsMaxTenants most tenants given their own series in the per-tenant metrics
 */
@ConfigurationProperties("machvm.quota")
public record QuotaProperties(Long maxTasks, DataSize maxResidentBytes, Long maxMapEntries,
        Map<String, Tenant> tenants, @DefaultValue("100") int metricsMaxTenants) {

    /** One tenant's overrides; unset ones are the defaults. */
    public record Tenant(Long maxTasks, DataSize maxResidentBytes, Long maxMapEntries) {
    }

    public QuotaProperties {
        tenants = tenants == null ? Map.of() : Map.copyOf(tenants);
        check("machvm.quota.max-tasks", maxTasks);
        check("machvm.quota.max-resident-bytes", maxResidentBytes == null ? null : maxResidentBytes.toBytes());
        check("machvm.quota.max-map-entries", maxMapEntries);
        for (Map.Entry<String, Tenant> t : tenants.entrySet()) {
            String prefix = "machvm.quota.tenants." + t.getKey();
            if (!TaskRegistry.TENANT_PATTERN.matcher(t.getKey()).matches()) {
                throw new InvalidSettingException(prefix, prefix + ": tenant names are 1 to 128 of [A-Za-z0-9._@+-]");
            }
            Tenant v = t.getValue();
            check(prefix + ".max-tasks", v.maxTasks());
            check(prefix + ".max-resident-bytes", v.maxResidentBytes() == null ? null : v.maxResidentBytes().toBytes());
            check(prefix + ".max-map-entries", v.maxMapEntries());
        }
        if (metricsMaxTenants < 0) {
            throw new InvalidSettingException("machvm.quota.metrics-max-tenants",
                    "machvm.quota.metrics-max-tenants must not be negative, not " + metricsMaxTenants);
        }
    }

    private static void check(String setting, Long value) {
        if (value != null && value < 0) {
            throw new InvalidSettingException(setting, setting + " must not be negative, not " + value);
        }
    }

    /** Every tenant's limits unless overridden. */
    public TenantQuotas.Limits defaults() {
        return new TenantQuotas.Limits(orUnlimited(maxTasks), orUnlimited(bytes(maxResidentBytes)),
                orUnlimited(maxMapEntries));
    }

    /** The overridden tenants' limits. */
    public Map<String, TenantQuotas.Limits> overrides() {
        TenantQuotas.Limits d = defaults();
        Map<String, TenantQuotas.Limits> out = new HashMap<>();
        tenants.forEach((name, t) -> out.put(name, new TenantQuotas.Limits(
                t.maxTasks() != null ? t.maxTasks() : d.maxTasks(),
                t.maxResidentBytes() != null ? t.maxResidentBytes().toBytes() : d.maxResidentBytes(),
                t.maxMapEntries() != null ? t.maxMapEntries() : d.maxMapEntries())));
        return out;
    }

    private static Long bytes(DataSize size) {
        return size == null ? null : size.toBytes();
    }

    private static long orUnlimited(Long value) {
        return value == null ? TenantQuotas.UNLIMITED : value;
    }
}
