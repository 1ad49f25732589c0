package io.machvm.ops;

import io.machvm.service.HostStatistics;
import io.machvm.service.VmService;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.stereotype.Component;

/**
 * The page store as health component {@code pageStore} (part of the readiness group): always UP, with the store's
 * figures as details. A full store is not a reason to stop routing to the pod: its tasks live only here, a full store
 * answers {@code 507 KERN_RESOURCE_SHORTAGE} per call, and clients must still reach the pod to free memory
 * ({@code vm_deallocate}, task terminate). Alert on {@code machvm_pages_free} instead.
 */
@Component
public class PageStoreHealthIndicator implements HealthIndicator {
    private final VmService service;

    public PageStoreHealthIndicator(VmService service) {
        this.service = service;
    }

    @Override
    public Health health() {
        HostStatistics stats = service.hostStatistics();
        return Health.up()
                .withDetail("capacityBytes", stats.capacityBytes())
                .withDetail("pageSize", stats.pageSize())
                .withDetail("residentPages", stats.residentPages())
                .withDetail("sharedPages", stats.sharedPages())
                .withDetail("freePages", stats.freePages())
                .withDetail("tasks", stats.tasks())
                .build();
    }
}
