package io.machvm.vm;

/** The Mach {@code kern_return_t} values the service answers with. */
public enum KernReturn {
    KERN_SUCCESS(0),
    KERN_INVALID_ADDRESS(1),
    KERN_PROTECTION_FAILURE(2),
    KERN_NO_SPACE(3),
    KERN_INVALID_ARGUMENT(4),
    KERN_FAILURE(5),
    KERN_RESOURCE_SHORTAGE(6),
    /**
     * The caller does not hold the receive right of the port: in a cluster, a shard asked directly about a task
     * that another shard owns.
     */
    KERN_NOT_RECEIVER(8),
    /** A name (here: a task id) that is already in use with other settings. */
    KERN_NAME_EXISTS(13),
    /** A call through a dead or unknown task port. */
    MACH_SEND_INVALID_DEST(0x10000003),
    /** A message not sent before its timeout: in a cluster, the task's shard is down, restarting or moving it. */
    MACH_SEND_TIMED_OUT(0x10000004);

    private final int value;

    KernReturn(int value) {
        this.value = value;
    }

    public int value() {
        return value;
    }

    /** The code with this name, or null. */
    public static KernReturn byName(String name) {
        for (KernReturn k : values()) {
            if (k.name().equals(name)) {
                return k;
            }
        }
        return null;
    }
}
