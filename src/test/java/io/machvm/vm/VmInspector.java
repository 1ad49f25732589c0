package io.machvm.vm;

import io.machvm.store.PageStore;
import java.lang.reflect.Field;

/**
 * Test-only view of a map's raw memory, whatever the protections: reads its page table directly (through
 * reflection, so that the core needs no test hook). Not for concurrent use with calls on the map.
 */
final class VmInspector {
    private static final Field PAGES;

    static {
        try {
            PAGES = VmMap.class.getDeclaredField("pages");
            PAGES.setAccessible(true);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private VmInspector() {
    }

    static PageTable pageTable(VmMap map) {
        try {
            return (PageTable) PAGES.get(map);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The page handle at {@code address}'s page (0: zero fill or unmapped). */
    static int handleAt(VmMap map, long address) {
        return pageTable(map).get(address >>> map.flavor().pageShift());
    }

    /** The bytes of one page, ignoring protections; zeros for untouched or unmapped pages. */
    static byte[] rawPage(VmMap map, long pageAddress) {
        PageStore store = map.store();
        byte[] out = new byte[store.pageSize()];
        store.read(handleAt(map, pageAddress), 0, out, 0, out.length);
        return out;
    }
}
