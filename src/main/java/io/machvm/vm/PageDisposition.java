package io.machvm.vm;

/** The bits of a page's disposition in {@code mach_vm_page_range_query}, and the most pages one query answers. */
public final class PageDisposition {
    /** {@code VM_PAGE_QUERY_PAGE_PRESENT}: the page has storage (it is not zero-fill). */
    public static final int PRESENT = 0x1;
    /** {@code VM_PAGE_QUERY_PAGE_DIRTY}: written since the last snapshot or dirty-set clear. */
    public static final int DIRTY = 0x8;
    /** {@code VM_PAGE_QUERY_PAGE_COPIED}: the page is shared, copy-on-write or with another task. */
    public static final int SHARED = 0x20;
    /** The most pages one query answers. */
    public static final long MAX_QUERY_PAGES = 1 << 20;

    private PageDisposition() {
    }
}
