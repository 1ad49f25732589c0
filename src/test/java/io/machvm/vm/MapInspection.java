package io.machvm.vm;

import java.util.Arrays;

/** What the tests look at inside a map that no call answers: the handles of its resident pages, whether it is dead. */
public final class MapInspection {
    private MapInspection() {
    }

    /** The handle of every resident page of {@code map}, in address order, shared ranges after the private pages. */
    public static int[] residentHandles(VmMap map) {
        map.lock.readLock().lock();
        try {
            IntList out = new IntList(16);
            map.pages.forEach(0, PageTable.MAX_PAGES, (page, handle) -> out.add(handle));
            if (map.sharedRanges != null) {
                for (SharedRange r : map.sharedRanges.values()) {
                    r.memory.pages.forEach(r.indexOf(r.startPage), r.indexOf(r.endPage),
                            (page, handle) -> out.add(handle));
                }
            }
            return Arrays.copyOf(out.array(), out.size());
        } finally {
            map.lock.readLock().unlock();
        }
    }

    /** Whether {@code map} was terminated: every call on it then fails with {@code MACH_SEND_INVALID_DEST}. */
    public static boolean isTerminated(VmMap map) {
        try {
            map.ensureAliveLocked();
            return false;
        } catch (KernException e) {
            if (e.kern() != KernReturn.MACH_SEND_INVALID_DEST) {
                throw e;
            }
            return true;
        }
    }
}
