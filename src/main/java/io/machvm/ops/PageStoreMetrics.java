package io.machvm.ops;

import io.machvm.service.HostStatistics;
import io.machvm.service.VmService;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.function.ToDoubleFunction;
import org.springframework.stereotype.Component;

/**
 * Gauges for the page store and the tasks, read at scrape time from the same figures as {@code GET /host/statistics}
 * (pages are host-flavor pages). The per-call timer {@code machvm.calls} and counter {@code machvm.bytes} are recorded
 * by {@link VmService} itself.
 */
@Component
public class PageStoreMetrics implements MeterBinder {
    private final VmService service;

    public PageStoreMetrics(VmService service) {
        this.service = service;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        gauge(registry, "machvm.tasks", "Live tasks", null, HostStatistics::tasks);
        gauge(registry, "machvm.pages.resident", "Pages holding data (host-flavor pages), shared ones counted once",
                null, HostStatistics::residentPages);
        gauge(registry, "machvm.pages.shared", "Resident pages shared copy-on-write by two or more mappings", null,
                HostStatistics::sharedPages);
        gauge(registry, "machvm.pages.free", "Pages that can still be handed out before KERN_RESOURCE_SHORTAGE", null,
                HostStatistics::freePages);
        gauge(registry, "machvm.store.capacity", "Page-store capacity (machvm.store.capacity)", "bytes",
                HostStatistics::capacityBytes);
    }

    private void gauge(MeterRegistry registry, String name, String description, String baseUnit,
            ToDoubleFunction<HostStatistics> figure) {
        Gauge.builder(name, service, s -> figure.applyAsDouble(s.hostStatistics()))
                .description(description)
                .baseUnit(baseUnit)
                .strongReference(true)
                .register(registry);
    }
}
