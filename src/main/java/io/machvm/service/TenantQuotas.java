package io.machvm.service;

import io.machvm.store.Budget;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Each tenant's quotas ({@code machvm.quota.*}): how many tasks it may hold, and a {@link Budget} per tenant for its
 * resident memory (in bytes) and for its map entries, made on first use. A task's budgets draw from its tenant's, which
 * draw from the node's when one is given, so a tenant at its quota is refused while the others go on.
 */
public final class TenantQuotas {
    /** No limit. */
    public static final long UNLIMITED = Budget.UNLIMITED;

    /**
     * One tenant's limits.
     *
     * @param maxTasks         most tasks alive at once
     * @param maxResidentBytes most bytes of resident pages (a page counts its flavor's page size, 4 or 16 KiB)
     * @param maxMapEntries    most map entries over all of the tenant's tasks
     */
    public record Limits(long maxTasks, long maxResidentBytes, long maxMapEntries) {
        public static final Limits NONE = new Limits(UNLIMITED, UNLIMITED, UNLIMITED);

        public Limits {
            if (maxTasks < 0 || maxResidentBytes < 0 || maxMapEntries < 0) {
                throw new IllegalArgumentException("quota limits must not be negative");
            }
        }
    }

    private final Limits defaults;
    private final Map<String, Limits> overrides;
    private final Budget nodeResidentBytes;
    private final Budget nodeMapEntries;
    private final ConcurrentHashMap<String, Budget> residentBytes = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Budget> mapEntries = new ConcurrentHashMap<>();

    /**
     * @param defaults          every tenant's limits unless overridden
     * @param overrides         limits by tenant name
     * @param nodeResidentBytes the parent of every tenant's resident-bytes budget, or null
     * @param nodeMapEntries    the parent of every tenant's map-entries budget, or null
     */
    public TenantQuotas(Limits defaults, Map<String, Limits> overrides, Budget nodeResidentBytes,
            Budget nodeMapEntries) {
        this.defaults = defaults;
        this.overrides = Map.copyOf(overrides);
        this.nodeResidentBytes = nodeResidentBytes;
        this.nodeMapEntries = nodeMapEntries;
    }

    /** No quotas at all. */
    public static TenantQuotas unlimited() {
        return new TenantQuotas(Limits.NONE, Map.of(), null, null);
    }

    public Limits limits(String tenant) {
        return overrides.getOrDefault(tenant, defaults);
    }

    /** Whether the tenant's limits come from {@code machvm.quota.tenants.<tenant>}. */
    public boolean overridden(String tenant) {
        return overrides.containsKey(tenant);
    }

    public long maxTasks(String tenant) {
        return limits(tenant).maxTasks();
    }

    /**
     * The tenant's budget of resident memory, in bytes: a task draws its flavor's page size (4096 or 16384) for each
     * page it holds, through a child budget of this one.
     */
    public Budget residentBytes(String tenant) {
        return residentBytes.computeIfAbsent(tenant, t -> new Budget(
                setting(t, "max-resident-bytes") + " of tenant '" + t + "'", limits(t).maxResidentBytes(),
                nodeResidentBytes));
    }

    /** The tenant's budget of map entries, counted over all of its tasks. */
    public Budget mapEntries(String tenant) {
        return mapEntries.computeIfAbsent(tenant, t -> new Budget(
                setting(t, "max-map-entries") + " of tenant '" + t + "'", limits(t).maxMapEntries(),
                nodeMapEntries));
    }

    /** The tenants that have budgets so far. */
    public Set<String> tenantsWithBudgets() {
        Set<String> all = ConcurrentHashMap.newKeySet();
        all.addAll(residentBytes.keySet());
        all.addAll(mapEntries.keySet());
        return all;
    }

    /** The setting that limits {@code quota} for this tenant, for refusals. */
    public String setting(String tenant, String quota) {
        return overridden(tenant) ? "machvm.quota.tenants." + tenant + "." + quota : "machvm.quota." + quota;
    }
}
