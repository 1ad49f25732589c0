package io.machvm.vm;

/** {@code vm_inherit_t}: what a forked child receives of a region. */
public enum VmInherit implements WireNamed {
    SHARE(0, "share"),
    COPY(1, "copy"),
    NONE(2, "none");

    private final int value;
    private final String wireName;

    VmInherit(int value, String wireName) {
        this.value = value;
        this.wireName = wireName;
    }

    public int value() {
        return value;
    }

    @Override
    public String wireName() {
        return wireName;
    }

    /** The inheritance with this Mach value, or null when above {@code VM_INHERIT_LAST_VALID}. */
    public static VmInherit fromValue(long value) {
        for (VmInherit i : values()) {
            if (i.value == value) {
                return i;
            }
        }
        return null;
    }

    /** The inheritance with this wire name, or null. */
    public static VmInherit fromWireName(String name) {
        return WireNamed.byWireName(values(), name);
    }
}
