package io.machvm.ops;

import io.machvm.config.QuotaProperties;
import io.machvm.service.Task;
import io.machvm.service.TaskRegistry;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.springframework.stereotype.Component;

/**
 * Gauges per tenant, for the first {@code machvm.quota.metrics-max-tenants} tenants seen (series per tenant are a
 * cardinality an operator must be able to bound): {@code machvm.tenant.tasks}, {@code machvm.tenant.resident.bytes}
 * and {@code machvm.tenant.map.entries}. The sums over a tenant's tasks are taken at most once a second.
 */
@Component
public class TenantMetrics implements MeterBinder {
    private static final long REFRESH_NANOS = 1_000_000_000L;

    private final TaskRegistry registry;
    private final int maxTenants;
    private final Set<String> metered = ConcurrentHashMap.newKeySet();
    private volatile MeterRegistry meters;
    private volatile Map<String, long[]> sums = Map.of();
    private volatile long sumsTakenNanos = System.nanoTime() - 2 * REFRESH_NANOS;

    public TenantMetrics(TaskRegistry registry, QuotaProperties quotas) {
        this.registry = registry;
        this.maxTenants = quotas.metricsMaxTenants();
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        this.meters = registry;
        this.registry.onNewTenant(this::meter);
        this.registry.tenantNames().forEach(this::meter);
    }

    private void meter(String tenant) {
        MeterRegistry m = meters;
        if (m == null || metered.contains(tenant) || metered.size() >= maxTenants || !metered.add(tenant)) {
            return;
        }
        Gauge.builder("machvm.tenant.tasks", () -> registry.tenantSize(tenant)).description("Tasks of a tenant")
                .tag("tenant", tenant).register(m);
        Gauge.builder("machvm.tenant.resident.bytes", () -> sums(tenant)[0]).baseUnit("bytes")
                .description("Resident bytes of a tenant's tasks").tag("tenant", tenant).register(m);
        Gauge.builder("machvm.tenant.map.entries", () -> sums(tenant)[1])
                .description("Map entries of a tenant's tasks").tag("tenant", tenant).register(m);
    }

    private long[] sums(String tenant) {
        long now = System.nanoTime();
        if (now - sumsTakenNanos > REFRESH_NANOS) {
            Map<String, long[]> fresh = new HashMap<>();
            for (Task task : registry.all()) {
                long[] s = fresh.computeIfAbsent(task.tenant(), t -> new long[2]);
                s[0] += task.map().residentPages() * (long) task.map().flavor().pageSize();
                s[1] += task.map().regionCount();
            }
            sums = fresh;
            sumsTakenNanos = now;
        }
        return sums.getOrDefault(tenant, new long[2]);
    }
}
