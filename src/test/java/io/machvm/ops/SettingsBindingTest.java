package io.machvm.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.config.MachvmProperties;
import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.core.env.MutablePropertySources;
import org.springframework.core.env.SystemEnvironmentPropertySource;
import org.springframework.util.unit.DataSize;

/** The defaults and the environment-variable names that README.md, the entrypoint and the Helm chart use. */
class SettingsBindingTest {

    private static MachvmProperties bind(Map<String, Object> environment) {
        MutablePropertySources sources = new MutablePropertySources();
        sources.addFirst(new SystemEnvironmentPropertySource("systemEnvironment", environment));
        return new Binder(ConfigurationPropertySources.from(sources))
                .bindOrCreate("machvm", MachvmProperties.class);
    }

    @Test
    void defaults() {
        MachvmProperties properties = bind(Map.of());
        assertThat(properties.host().hostFlavor()).isEqualTo(Flavor.ARM64);
        assertThat(properties.vm().errorModel()).isEqualTo(ErrorModel.DOCUMENTED);
        assertThat(properties.store().capacity()).isEqualTo(DataSize.ofGigabytes(1));
        assertThat(properties.store().slabSize()).isEqualTo(DataSize.ofMegabytes(64));
        assertThat(properties.api().maxTransfer()).isEqualTo(DataSize.ofGigabytes(1));
        assertThat(properties.tasks().max()).isEqualTo(10000);
        assertThat(properties.persistence().directory()).isEmpty();
        assertThat(properties.persistence().checkpointInterval()).isEqualTo(java.time.Duration.ofSeconds(1));
    }

    @Test
    void persistenceSettingsHaveEnvironmentVariables() {
        MachvmProperties properties = bind(Map.of("MACHVM_PERSISTENCE_DIRECTORY", "/var/lib/machvm",
                "MACHVM_PERSISTENCE_CHECKPOINTINTERVAL", "250ms"));
        assertThat(properties.persistence().directory()).isEqualTo("/var/lib/machvm");
        assertThat(properties.persistence().checkpointInterval()).isEqualTo(java.time.Duration.ofMillis(250));
    }

    @Test
    void everySettingHasAnEnvironmentVariable() {
        MachvmProperties properties = bind(Map.of("MACHVM_HOST_FLAVOR", "x86_64", "MACHVM_VM_ERRORS", "xnu",
                "MACHVM_STORE_CAPACITY", "256MB", "MACHVM_STORE_SLABSIZE", "16MB", "MACHVM_API_MAXTRANSFER", "8MB",
                "MACHVM_TASKS_MAX", "50"));
        assertThat(properties.host().hostFlavor()).isEqualTo(Flavor.X86_64);
        assertThat(properties.vm().errorModel()).isEqualTo(ErrorModel.XNU);
        assertThat(properties.store().capacity()).isEqualTo(DataSize.ofMegabytes(256));
        assertThat(properties.store().slabSize()).isEqualTo(DataSize.ofMegabytes(16));
        assertThat(properties.api().maxTransfer()).isEqualTo(DataSize.ofMegabytes(8));
        assertThat(properties.tasks().max()).isEqualTo(50);
    }

    @Test
    void heapLimitsDefaultToTheHeapAndBindFromTheEnvironment() {
        MachvmProperties.Limits unset = bind(Map.of()).limits();
        assertThat(unset.maxMapEntries()).isNull();
        assertThat(unset.maxPageTableBytesPerTask()).isNull();
        MachvmProperties.Limits set = bind(Map.of("MACHVM_LIMITS_MAXMAPENTRIES", "5000",
                "MACHVM_LIMITS_MAXMAPENTRIESPERTASK", "100", "MACHVM_LIMITS_MAXPAGETABLEBYTES", "64MB",
                "MACHVM_LIMITS_MAXPAGETABLEBYTESPERTASK", "1MB")).limits();
        assertThat(set.maxMapEntries()).isEqualTo(5000);
        assertThat(set.maxMapEntriesPerTask()).isEqualTo(100);
        assertThat(set.maxPageTableBytes()).isEqualTo(DataSize.ofMegabytes(64));
        assertThat(set.maxPageTableBytesPerTask()).isEqualTo(DataSize.ofMegabytes(1));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> bind(Map.of("MACHVM_LIMITS_MAXMAPENTRIES", "0")))
                .hasStackTraceContaining("machvm.limits.max-map-entries must be at least 1");
        org.assertj.core.api.Assertions.assertThatThrownBy(
                () -> bind(Map.of("MACHVM_LIMITS_MAXPAGETABLEBYTESPERTASK", "1KB")))
                .hasStackTraceContaining("machvm.limits.max-page-table-bytes-per-task must be at least 16KB");
        io.machvm.service.HeapLimits derived = io.machvm.service.HeapLimits.forHeap(512L << 20);
        assertThat(derived.maxPageTableBytes()).isEqualTo(128L << 20);
        assertThat(derived.maxPageTableBytesPerTask()).isEqualTo(32L << 20);
        assertThat(derived.maxMapEntries()).isEqualTo((128L << 20) / 160);
        assertThat(derived.maxMapEntriesPerTask()).isEqualTo((128L << 20) / 160 / 4);
    }
}
