package io.machvm.config;

import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.WireNamed;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;

/**
 * Every {@code machvm.*} setting, validated when bound: an invalid value stops start-up with one line naming the
 * setting ({@link InvalidSettingException}, reported by {@code io.machvm.ops.InvalidSettingFailureAnalyzer}).
 */
@ConfigurationProperties("machvm")
public record MachvmProperties(@DefaultValue Host host, @DefaultValue Vm vm, @DefaultValue Store store,
        @DefaultValue Api api, @DefaultValue Tasks tasks, @DefaultValue Persistence persistence,
        @DefaultValue Limits limits, @DefaultValue Shutdown shutdown) {

    /** The host: its flavor is what {@code host_page_size} reports and the default for new tasks. */
    public record Host(@DefaultValue("arm64") String flavor) {
        public Host {
            checkWireName("machvm.host.flavor", flavor, Flavor.values(), "arm64 or x86_64");
        }

        public Flavor hostFlavor() {
            return Flavor.fromWireName(flavor);
        }
    }

    /** Defaults for new tasks. */
    public record Vm(@DefaultValue("documented") String errors) {
        public Vm {
            checkWireName("machvm.vm.errors", errors, ErrorModel.values(), "documented or xnu");
        }

        public ErrorModel errorModel() {
            return ErrorModel.fromWireName(errors);
        }
    }

    /** The off-heap page store. */
    public record Store(@DefaultValue("1GB") DataSize capacity, @DefaultValue("64MB") DataSize slabSize) {
        public Store {
            if (capacity == null || capacity.toBytes() < 16384) {
                throw new InvalidSettingException("machvm.store.capacity",
                        "machvm.store.capacity must be at least 16KB, not " + show(capacity));
            }
            long slab = slabSize == null ? 0 : slabSize.toBytes();
            if (slab < 16384 || slab > (1L << 30) || Long.bitCount(slab) != 1) {
                throw new InvalidSettingException("machvm.store.slab-size",
                        "machvm.store.slab-size must be a power of two from 16KB to 1GB, not " + show(slabSize));
            }
        }
    }

    /** Limits of the HTTP API. */
    public record Api(@DefaultValue("1GB") DataSize maxTransfer) {
        public Api {
            if (maxTransfer == null || maxTransfer.toBytes() < 1) {
                throw new InvalidSettingException("machvm.api.max-transfer",
                        "machvm.api.max-transfer must be positive, not " + show(maxTransfer));
            }
        }
    }

    /** Limits on tasks. */
    public record Tasks(@DefaultValue("10000") int max) {
        public Tasks {
            if (max < 1) {
                throw new InvalidSettingException("machvm.tasks.max", "machvm.tasks.max must be at least 1, not " + max);
            }
        }
    }

    /**
     * Where tasks are kept across restarts and crashes: with a directory, the tasks are checkpointed there every
     * {@code checkpointInterval} (what changed since the last checkpoint) and on graceful shutdown, and restored at
     * start-up. Empty (the default): tasks live only in memory.
     */
    public record Persistence(@DefaultValue("") String directory,
            @DefaultValue("1s") java.time.Duration checkpointInterval) {
        public Persistence {
            if (directory == null) {
                directory = "";
            }
            if (checkpointInterval == null) {
                checkpointInterval = java.time.Duration.ofSeconds(1);
            }
            if (checkpointInterval.toMillis() < 10 || checkpointInterval.toHours() > 24) {
                throw new InvalidSettingException("machvm.persistence.checkpoint-interval",
                        "machvm.persistence.checkpoint-interval must be from 10ms to 24h, not "
                                + checkpointInterval.toMillis() + "ms");
            }
            if (directory.indexOf('\0') >= 0) {
                throw new InvalidSettingException("machvm.persistence.directory",
                        "machvm.persistence.directory is not a valid path");
            }
        }
    }

    /**
     * How a graceful shutdown begins: for {@code drain} after readiness turns to refusing traffic the node still serves
     * every request, so that a proxy's health check (or Kubernetes' endpoints) stops sending requests here before the
     * connector closes its keep-alive connections. Without it a request already on its way over such a connection may
     * get no answer at all. {@code 0s} (the default) closes at once, for a node no proxy checks; the Helm chart waits
     * in {@code preStop} instead.
     */
    public record Shutdown(@DefaultValue("0s") java.time.Duration drain) {
        public Shutdown {
            if (drain == null) {
                drain = java.time.Duration.ZERO;
            }
            if (drain.isNegative() || drain.toMinutes() > 5) {
                throw new InvalidSettingException("machvm.shutdown.drain",
                        "machvm.shutdown.drain must be from 0s to 5m, not " + drain.toMillis() + "ms");
            }
        }
    }

    /**
     * Heap bounds of what requests can make tasks hold: map entries and page-table memory, in all and per task. A
     * call beyond one is refused ({@code KERN_RESOURCE_SHORTAGE}) and changes nothing. Unset (the default): derived
     * from the maximum heap, a quarter of it for entries and a quarter for page tables, a task at most a quarter of
     * either.
     */
    public record Limits(Long maxMapEntries, Long maxMapEntriesPerTask, DataSize maxPageTableBytes,
            DataSize maxPageTableBytesPerTask) {
        public Limits {
            positive("machvm.limits.max-map-entries", maxMapEntries);
            positive("machvm.limits.max-map-entries-per-task", maxMapEntriesPerTask);
            atLeastOneNode("machvm.limits.max-page-table-bytes", maxPageTableBytes);
            atLeastOneNode("machvm.limits.max-page-table-bytes-per-task", maxPageTableBytesPerTask);
        }

        private static void positive(String name, Long value) {
            if (value != null && value < 1) {
                throw new InvalidSettingException(name, name + " must be at least 1, not " + value);
            }
        }

        private static void atLeastOneNode(String name, DataSize value) {
            if (value != null && value.toBytes() < 16384) {
                throw new InvalidSettingException(name, name + " must be at least 16KB, not " + show(value));
            }
        }
    }

    /** Refuses a setting that is not the wire name of one of {@code values} ({@code allowed} names them). */
    private static void checkWireName(String setting, String value, WireNamed[] values, String allowed) {
        if (WireNamed.byWireName(values, value) == null) {
            throw new InvalidSettingException(setting, setting + " must be " + allowed + ", not '" + value + "'");
        }
    }

    private static String show(DataSize size) {
        return size == null ? "(empty)" : Sizes.format(size.toBytes());
    }
}
