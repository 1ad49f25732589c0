package io.machvm.config;

import io.machvm.service.HeapLimits;
import io.machvm.service.PageStores;
import io.machvm.service.TaskRegistry;
import io.machvm.service.TaskPersistence;
import io.machvm.service.TenantQuotas;
import io.machvm.service.NodeBudgets;
import io.machvm.service.TenantResolver;
import org.springframework.beans.factory.ObjectProvider;
import io.machvm.service.VmService;
import java.nio.file.Path;
import org.springframework.boot.autoconfigure.condition.ConditionalOnExpression;
import io.micrometer.core.instrument.MeterRegistry;
import java.lang.management.ManagementFactory;
import com.sun.management.HotSpotDiagnosticMXBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Wires the page stores, the task registry and the service from {@link MachvmProperties}. */
@Configuration(proxyBeanMethods = false)
public class MachvmConfiguration {

    @Bean
    PageStores pageStores(MachvmProperties properties) {
        checkDirectMemory(properties);
        return new PageStores(properties.store().capacity().toBytes(), properties.store().slabSize().toBytes());
    }

    /**
     * Fails when the page-store capacity cannot be allocated off-heap: checked here and, earlier and with cleaner
     * output, by {@link SettingsCheck} before the context starts.
     */
    static void checkDirectMemory(MachvmProperties properties) {
        long capacity = properties.store().capacity().toBytes();
        long directLimit = maxDirectMemory();
        if (capacity > directLimit) {
            throw new InvalidSettingException("machvm.store.capacity", "machvm.store.capacity="
                    + Sizes.format(capacity) + " exceeds the JVM's direct-memory limit of " + Sizes.format(directLimit)
                    + " (-XX:MaxDirectMemorySize)", "Lower machvm.store.capacity or raise -XX:MaxDirectMemorySize to "
                    + "at least the capacity plus some headroom for I/O buffers (the container entrypoint and the Helm "
                    + "chart derive both from one number: see README.md, Deployment).");
        }
    }

    @Bean
    TaskRegistry taskRegistry(PageStores stores, MachvmProperties properties, HeapLimits limits, NodeBudgets node,
            ObjectProvider<TenantResolver> tenants, ObjectProvider<TenantQuotas> quotas) {
        return new TaskRegistry(stores, properties.host().hostFlavor(), properties.vm().errorModel(),
                properties.tasks().max(), limits, node, tenants.getIfAvailable(() -> TenantResolver.ANONYMOUS),
                quotas.getIfAvailable());
    }

    @Bean
    HeapLimits heapLimits(MachvmProperties properties) {
        return heapLimits(properties.limits(), Runtime.getRuntime().maxMemory());
    }

    /** The roots of every tenant's and task's heap budgets. */
    @Bean
    NodeBudgets nodeBudgets(HeapLimits limits) {
        return NodeBudgets.of(limits);
    }

    /** The configured heap limits, each unset one derived from {@code maxHeapBytes}. */
    static HeapLimits heapLimits(MachvmProperties.Limits settings, long maxHeapBytes) {
        HeapLimits derived = HeapLimits.forHeap(maxHeapBytes);
        return new HeapLimits(
                settings.maxMapEntries() != null ? settings.maxMapEntries() : derived.maxMapEntries(),
                settings.maxMapEntriesPerTask() != null ? settings.maxMapEntriesPerTask()
                        : derived.maxMapEntriesPerTask(),
                settings.maxPageTableBytes() != null ? settings.maxPageTableBytes().toBytes()
                        : derived.maxPageTableBytes(),
                settings.maxPageTableBytesPerTask() != null ? settings.maxPageTableBytesPerTask().toBytes()
                        : derived.maxPageTableBytesPerTask());
    }

    @Bean
    VmService vmService(TaskRegistry registry, PageStores stores, MachvmProperties properties, MeterRegistry meters) {
        return new VmService(registry, properties.host().hostFlavor(),
                properties.api().maxTransfer().toBytes(), meters);
    }

    /** Keeps tasks across restarts when {@code machvm.persistence.directory} is set. */
    @Bean
    @ConditionalOnExpression("!'${machvm.persistence.directory:}'.isBlank()")
    TaskPersistence taskPersistence(MachvmProperties properties, TaskRegistry registry, VmService service,
            PageStores stores) {
        return new TaskPersistence(Path.of(properties.persistence().directory()), registry, service, stores,
                properties.persistence().checkpointInterval());
    }

    /** The JVM's direct-memory limit: -XX:MaxDirectMemorySize, or the maximum heap size when that is unset. */
    static long maxDirectMemory() {
        HotSpotDiagnosticMXBean hotspot = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        long configured = hotspot == null ? 0 : Long.parseLong(hotspot.getVMOption("MaxDirectMemorySize").getValue());
        return configured > 0 ? configured : Runtime.getRuntime().maxMemory();
    }
}
