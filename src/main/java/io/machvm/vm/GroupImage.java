package io.machvm.vm;

import io.machvm.store.PageStore;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.zip.CRC32C;

/**
 * Several tasks of one flavor as one image: the group form of {@link TaskImage} (version 2), which a shard hands its
 * tasks to their new owner in. Every distinct page is sent once, however many of the tasks hold it, and the tasks
 * arrive sharing it again, copy-on-write or through memory shared by a fork with inheritance share, as after a
 * restart from the checkpoint log. Taken with {@link #take}, written with {@link #writeTo}, read with
 * {@link GroupImageReader}.
 *
 * <p>Format, big-endian, with the conventions of version 1: {@code "MACHVMTI"}, u16 version (2), u8+ASCII flavor;
 * u32 task count and a heading per task ({@code u16+UTF-8 tenant, u16+UTF-8 id, u8+ASCII error model, u16+UTF-8 name},
 * 0: none), so that a reader can claim the ids before any page arrives; u64 page count and the pages, numbered from 0
 * in order ({@code page bytes, u32 CRC-32C of the bytes}); then per task its entries ({@code u32 count; u64 start,
 * u64 end, u8 protection, u8 max protection, u8 inheritance, u64 offset, u8 shared}), its shared ranges
 * ({@code u32 count; u64 start page, u64 end page, u32 memory, u64 memory start page}) and its own resident pages
 * ({@code u64 count; u64 page index, u64 page number}, indexes ascending); then the shared memories, numbered from 0
 * ({@code u32 count; each u64 count; u64 page index, u64 page number}); {@code "MACHVMEN"}, and a u32 CRC-32C of every
 * byte before it except the page bytes, which their own checksums cover (their checksums are in, so pages out of order
 * are caught too).
 */
public final class GroupImage implements AutoCloseable {
    /** The media type of a group image over HTTP. */
    public static final String MEDIA_TYPE = "application/vnd.machvm.snapshot-group";
    static final int VERSION = 2;
    /** Bytes written to the stream at a time. */
    static final int BUFFER_BYTES = 1 << 20;

    /** A task to take: who it is and its map. */
    public record Member(String tenant, String id, String name, VmMap map) {
    }

    /** One task as taken: its entries and ranges, and its own pages as page numbers of the image. */
    private record Taken(Member member, List<CheckpointImage.Entry> entries, List<Range> ranges, long[] indexes,
            int[] pageNumbers) {
    }

    /** A shared range, with its memory numbered in the image. */
    private record Range(long startPage, long endPage, int memory, long memoryStartPage) {
    }

    /** A shared memory's pages as page numbers of the image. */
    private record Memory(long[] indexes, int[] pageNumbers) {
    }

    private final PageStore store;
    private final Flavor flavor;
    private final List<Taken> tasks;
    private final List<Memory> memories;
    /** The distinct pages, ascending by handle; each referenced once by this image until it is closed. */
    private final int[] pages;
    private final AtomicBoolean closed = new AtomicBoolean();

    private GroupImage(PageStore store, Flavor flavor, List<Taken> tasks, List<Memory> memories, int[] pages) {
        this.store = store;
        this.flavor = flavor;
        this.tasks = tasks;
        this.memories = memories;
        this.pages = pages;
    }

    /**
     * Takes the tasks, each under its map's lock at its own instant, their pages referenced so that the image can be
     * written after the locks are released: a caller that needs the tasks taken together keeps calls on them out
     * meanwhile (a handoff's fence). The caller must close the image.
     *
     * @throws KernException            {@code MACH_SEND_INVALID_DEST} when one of the tasks has been terminated
     * @throws IllegalArgumentException when the tasks do not all live in one store
     */
    public static GroupImage take(List<Member> members) {
        if (members.isEmpty()) {
            throw new IllegalArgumentException("a group image needs a task");
        }
        VmMap first = members.getFirst().map();
        Map<SharedMemory, Integer> memoryNumbers = new IdentityHashMap<>();
        List<long[]> memoryIndexes = new ArrayList<>();
        List<int[]> memoryHandles = new ArrayList<>();
        List<Taken> taken = new ArrayList<>(members.size());
        List<int[]> ownHandles = new ArrayList<>(members.size());
        // every handle taken, once per use; each holds a reference until the distinct pages hold theirs
        IntList uses = new IntList(1024);
        try {
            for (Member member : members) {
                VmMap map = member.map();
                if (map.store != first.store) {
                    throw new IllegalArgumentException("the tasks of a group image share one store");
                }
                map.lock.readLock().lock();
                try {
                    map.ensureAlive();
                    List<CheckpointImage.Entry> entries = new ArrayList<>(map.entries.size());
                    for (VmEntry e : map.entries.values()) {
                        entries.add(new CheckpointImage.Entry(e.start, e.end, e.protection, e.maxProtection,
                                e.inheritance, e.offset, e.shared));
                    }
                    List<Range> ranges = new ArrayList<>();
                    if (map.sharedRanges != null) {
                        for (SharedRange r : map.sharedRanges.values()) {
                            Integer number = memoryNumbers.get(r.memory);
                            if (number == null) {
                                number = memoryNumbers.size();
                                memoryNumbers.put(r.memory, number);
                                LongList indexes = new LongList();
                                IntList handles = new IntList(64);
                                collect(map.store, r.memory.pages, indexes, handles, uses);
                                memoryIndexes.add(toArray(indexes));
                                memoryHandles.add(Arrays.copyOf(handles.array(), handles.size()));
                            }
                            ranges.add(new Range(r.startPage, r.endPage, number, r.memoryStartPage));
                        }
                    }
                    LongList indexes = new LongList();
                    IntList handles = new IntList(64);
                    collect(map.store, map.pages, indexes, handles, uses);
                    taken.add(new Taken(member, entries, ranges, toArray(indexes), null));
                    ownHandles.add(Arrays.copyOf(handles.array(), handles.size()));
                } finally {
                    map.lock.readLock().unlock();
                }
            }
        } catch (RuntimeException | Error failure) {
            first.store.releaseAll(uses.array(), uses.size());
            throw failure;
        }
        int[] pages = distinct(uses);
        for (int handle : pages) {
            first.store.retain(handle);
        }
        first.store.releaseAll(uses.array(), uses.size());
        List<Taken> tasks = new ArrayList<>(taken.size());
        for (int i = 0; i < taken.size(); i++) {
            Taken t = taken.get(i);
            tasks.add(new Taken(t.member(), t.entries(), t.ranges(), t.indexes(), numbers(pages,
                    ownHandles.get(i))));
        }
        List<Memory> memories = new ArrayList<>(memoryIndexes.size());
        for (int m = 0; m < memoryIndexes.size(); m++) {
            memories.add(new Memory(memoryIndexes.get(m), numbers(pages, memoryHandles.get(m))));
        }
        return new GroupImage(first.store, first.flavor, tasks, memories, pages);
    }

    /** Adds every resident page of {@code table}, referenced, to the lists and to {@code uses}. */
    private static void collect(PageStore store, PageTable table, LongList indexes, IntList handles, IntList uses) {
        table.forEach(0, PageTable.MAX_PAGES, (p, h) -> {
            store.retain(h);
            uses.add(h);
            indexes.add(p);
            handles.add(h);
        });
    }

    private static long[] toArray(LongList list) {
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = list.get(i);
        }
        return out;
    }

    private static int[] distinct(IntList handles) {
        int[] sorted = Arrays.copyOf(handles.array(), handles.size());
        Arrays.sort(sorted);
        int n = 0;
        for (int i = 0; i < sorted.length; i++) {
            if (n == 0 || sorted[n - 1] != sorted[i]) {
                sorted[n++] = sorted[i];
            }
        }
        return Arrays.copyOf(sorted, n);
    }

    private static int[] numbers(int[] pages, int[] handles) {
        int[] out = new int[handles.length];
        for (int i = 0; i < handles.length; i++) {
            out[i] = Arrays.binarySearch(pages, handles[i]);
        }
        return out;
    }

    /**
     * Which of {@code maps} must travel together to keep what they share: the index of a representative of each map's
     * family, the maps linked by a page they hold in common (copy-on-write) or by memory they share (fork with
     * inheritance share, whose maps share a lock). Each map is looked at under its lock at its own instant; a
     * terminated map is a family of its own.
     */
    public static int[] families(List<VmMap> maps) {
        int[] parent = new int[maps.size()];
        for (int i = 0; i < parent.length; i++) {
            parent[i] = i;
        }
        Map<ReentrantReadWriteLock, Integer> byLock = new IdentityHashMap<>();
        LongList shared = new LongList();
        for (int i = 0; i < maps.size(); i++) {
            VmMap map = maps.get(i);
            Integer other = byLock.putIfAbsent(map.lock, i);
            if (other != null) {
                union(parent, i, other);
            }
            long index = i;
            map.lock.readLock().lock();
            try {
                map.pager.forEachPage(0, PageTable.MAX_PAGES, (p, h) -> {
                    if (map.store.isShared(h)) {
                        shared.add(((long) h << 32) | index);
                    }
                });
            } finally {
                map.lock.readLock().unlock();
            }
        }
        shared.sortDistinct();
        for (int k = 1; k < shared.size(); k++) {
            if (shared.get(k) >>> 32 == shared.get(k - 1) >>> 32) {
                union(parent, (int) shared.get(k), (int) shared.get(k - 1));
            }
        }
        for (int i = 0; i < parent.length; i++) {
            parent[i] = root(parent, i);
        }
        return parent;
    }

    private static void union(int[] parent, int a, int b) {
        parent[root(parent, a)] = root(parent, b);
    }

    private static int root(int[] parent, int i) {
        while (parent[i] != i) {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        return i;
    }

    /** The tasks' count. */
    public int taskCount() {
        return tasks.size();
    }

    /** The distinct pages the image carries. */
    public int pageCount() {
        return pages.length;
    }

    /** The number of bytes {@link #writeTo} writes. */
    public long sizeBytes() {
        long size = TaskImage.MAGIC.length + 2 + 1 + flavor.wireName().length() + 4;
        for (Taken t : tasks) {
            Member m = t.member();
            size += 2 + utf8(m.tenant()).length + 2 + utf8(m.id()).length + 1
                    + m.map().errors().wireName().length() + 2 + TaskImage.nameBytes(m.name()).length;
        }
        size += 8 + (long) pages.length * (flavor.pageSize() + 4);
        for (Taken t : tasks) {
            size += 4 + (long) t.entries().size() * ENTRY_BYTES + 4 + (long) t.ranges().size() * RANGE_BYTES + 8
                    + (long) t.indexes().length * 16;
        }
        size += 4;
        for (Memory m : memories) {
            size += 8 + (long) m.indexes().length * 16;
        }
        return size + TaskImage.END.length + 4;
    }

    static final int ENTRY_BYTES = 8 + 8 + 3 + 8 + 1;
    static final int RANGE_BYTES = 8 + 8 + 4 + 8;

    /**
     * Writes the image to {@code out} in writes of up to {@link #BUFFER_BYTES}, the pages copied from the store into
     * the buffer once; the pages are the ones referenced when it was taken.
     */
    public void writeTo(OutputStream out) throws IOException {
        new Writer(out).write();
    }

    /** Fills one buffer and hands it to the stream when full; checksums what it passes, page bytes apart. */
    private final class Writer {
        private final OutputStream out;
        private final byte[] bytes = new byte[BUFFER_BYTES];
        private final ByteBuffer buffer = ByteBuffer.wrap(bytes);
        private final CRC32C total = new CRC32C();
        private final CRC32C pageCrc = new CRC32C();
        /** Where the bytes not yet in {@link #total} start. */
        private int unsummed;

        Writer(OutputStream out) {
            this.out = out;
        }

        void write() throws IOException {
            buffer.put(TaskImage.MAGIC).putShort((short) VERSION);
            ascii(flavor.wireName());
            buffer.putInt(tasks.size());
            for (Taken t : tasks) {
                Member m = t.member();
                text(utf8(m.tenant()));
                text(utf8(m.id()));
                ascii(m.map().errors().wireName());
                text(TaskImage.nameBytes(m.name()));
            }
            room(8);
            buffer.putLong(pages.length);
            int pageSize = flavor.pageSize();
            for (int handle : pages) {
                room(pageSize + 4);
                sum();
                int at = buffer.position();
                store.read(handle, 0, bytes, at, pageSize);
                pageCrc.reset();
                pageCrc.update(bytes, at, pageSize);
                buffer.position(at + pageSize);
                unsummed = buffer.position();
                buffer.putInt((int) pageCrc.getValue());
            }
            for (Taken t : tasks) {
                room(4);
                buffer.putInt(t.entries().size());
                for (CheckpointImage.Entry e : t.entries()) {
                    room(ENTRY_BYTES);
                    buffer.putLong(e.start()).putLong(e.end()).put((byte) e.protection())
                            .put((byte) e.maxProtection()).put((byte) e.inheritance().value()).putLong(e.offset())
                            .put((byte) (e.shared() ? 1 : 0));
                }
                room(4);
                buffer.putInt(t.ranges().size());
                for (Range r : t.ranges()) {
                    room(RANGE_BYTES);
                    buffer.putLong(r.startPage()).putLong(r.endPage()).putInt(r.memory())
                            .putLong(r.memoryStartPage());
                }
                pageMap(t.indexes(), t.pageNumbers());
            }
            room(4);
            buffer.putInt(memories.size());
            for (Memory m : memories) {
                pageMap(m.indexes(), m.pageNumbers());
            }
            room(TaskImage.END.length + 4);
            buffer.put(TaskImage.END);
            sum();
            buffer.putInt((int) total.getValue());
            drain();
            out.flush();
        }

        private void pageMap(long[] indexes, int[] numbers) throws IOException {
            room(8);
            buffer.putLong(indexes.length);
            for (int i = 0; i < indexes.length; i++) {
                room(16);
                buffer.putLong(indexes[i]).putLong(numbers[i]);
            }
        }

        private void text(byte[] utf8) throws IOException {
            room(2 + utf8.length);
            buffer.putShort((short) utf8.length).put(utf8);
        }

        private void ascii(String text) throws IOException {
            room(1 + text.length());
            buffer.put((byte) text.length()).put(text.getBytes(StandardCharsets.US_ASCII));
        }

        /** Adds the bytes since the last call to the total checksum. */
        private void sum() {
            total.update(bytes, unsummed, buffer.position() - unsummed);
            unsummed = buffer.position();
        }

        private void room(int length) throws IOException {
            if (buffer.remaining() < length) {
                sum();
                drain();
            }
        }

        private void drain() throws IOException {
            out.write(bytes, 0, buffer.position());
            buffer.clear();
            unsummed = 0;
        }
    }

    static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    /** Gives back the references to the pages. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            store.releaseAll(pages, pages.length);
        }
    }
}
