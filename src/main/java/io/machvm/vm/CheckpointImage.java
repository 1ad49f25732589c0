package io.machvm.vm;

import io.machvm.store.PageStore;
import java.util.List;
import java.util.Map;

/**
 * What a checkpoint takes of one task ({@link VmMap#checkpoint}): its entries and shared ranges, and the pages of its
 * own table and of each shared memory it sees that changed since the last checkpoint (or all of them when
 * {@link Pages#full}). Each page comes with its store content id ({@link PageStore#contentId}), so pages that several
 * tasks share are stored once and restored shared. Also the input of {@link VmMap#restoreCheckpointed}.
 *
 * @param entries  the map entries in address order
 * @param ranges   the page ranges that live in shared memory (fork with inheritance share)
 * @param pages    the task's own pages
 * @param memories the shared memories' pages, by memory id (only those taken in full or with changes)
 */
public record CheckpointImage(Flavor flavor, ErrorModel errors, List<Entry> entries, List<Range> ranges, Pages pages,
        Map<Long, Pages> memories) {

    /** One map entry. */
    public record Entry(long start, long end, int protection, int maxProtection, VmInherit inheritance, long offset,
            boolean shared) {
    }

    /** Pages {@code [startPage, endPage)} of the task live in memory {@code memoryId} from {@code memoryStartPage}. */
    public record Range(long startPage, long endPage, long memoryId, long memoryStartPage) {
    }

    /**
     * Pages of one page table: with {@code full}, every resident page; otherwise the changed ones, where handle 0
     * means the page is no longer resident. {@code contentIds[i]} is 0 for handle 0.
     */
    public record Pages(boolean full, long[] indexes, int[] handles, long[] contentIds, int count) {
    }
}
