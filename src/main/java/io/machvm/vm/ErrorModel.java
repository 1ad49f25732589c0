package io.machvm.vm;

/** How protection problems are reported; see SEMANTICS.md "Error model". */
public enum ErrorModel implements WireNamed {
    /** Protection problems are always {@code KERN_PROTECTION_FAILURE}, as the man pages say. */
    DOCUMENTED("documented"),
    /**
     * Bit-for-bit XNU: transfers of at most the flavor's small-transfer limit go through the kernel-buffer path,
     * where a protection problem is {@code KERN_INVALID_ADDRESS}.
     */
    XNU("xnu");

    private final String wireName;

    ErrorModel(String wireName) {
        this.wireName = wireName;
    }

    @Override
    public String wireName() {
        return wireName;
    }

    /** The model with this wire name ({@code documented} or {@code xnu}), or null. */
    public static ErrorModel fromWireName(String name) {
        return WireNamed.byWireName(values(), name);
    }
}
