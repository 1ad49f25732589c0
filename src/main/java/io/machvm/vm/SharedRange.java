package io.machvm.vm;

/** Pages {@code [startPage, endPage)} of this map live in {@code memory} from {@code memoryStartPage} on. */
final class SharedRange {
    final long startPage;
    long endPage;
    final SharedMemory memory;
    final long memoryStartPage;

    SharedRange(long startPage, long endPage, SharedMemory memory, long memoryStartPage) {
        this.startPage = startPage;
        this.endPage = endPage;
        this.memory = memory;
        this.memoryStartPage = memoryStartPage;
    }

    long indexOf(long page) {
        return memoryStartPage + (page - startPage);
    }
}
