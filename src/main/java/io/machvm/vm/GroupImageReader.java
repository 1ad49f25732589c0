package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;
import static io.machvm.vm.TaskImage.corrupt;

import io.machvm.store.PageStore;
import io.machvm.store.StoreExhaustedException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * Reads a {@link GroupImage}: first its headings ({@link #open}), so that the caller can claim the ids before any
 * page arrives, then its pages and maps ({@link #restore}), each page read from the stream into one buffer and copied
 * from there into the store once. The maps come back sharing what the tasks shared, and charged as a restart from the
 * checkpoint log charges them ({@link Checkpoints#restore}). A corrupt, truncated or inconsistent image is refused
 * with {@code KERN_INVALID_ARGUMENT} and leaves nothing behind.
 */
public final class GroupImageReader {
    private static final int MAX_TASKS = 1 << 20;
    private static final int PAGES_PER_ALLOCATION = 256;

    /** Told of each page as its bytes land in the store, before the maps that hold it exist. */
    @FunctionalInterface
    public interface PageSink {
        void page(PageStore store, int handle) throws IOException;
    }

    /** One task's heading: who it is. */
    public record Heading(String tenant, String id, String name, ErrorModel errors) {
    }

    private final Input in;
    private final Flavor flavor;
    private final List<Heading> headings;
    private boolean restored;

    private GroupImageReader(Input in, Flavor flavor, List<Heading> headings) {
        this.in = in;
        this.flavor = flavor;
        this.headings = headings;
    }

    /** Reads the image's headings from {@code raw}, which {@link #restore} then reads to its end. */
    public static GroupImageReader open(InputStream raw) throws IOException {
        Input in = new Input(raw);
        byte[] magic = in.bytes(TaskImage.MAGIC.length);
        if (!Arrays.equals(magic, TaskImage.MAGIC)) {
            throw corrupt("it does not start with " + new String(TaskImage.MAGIC, StandardCharsets.US_ASCII));
        }
        int version = in.u16();
        if (version != GroupImage.VERSION) {
            throw corrupt("version " + version + " is not a group image (version " + GroupImage.VERSION + ")");
        }
        Flavor flavor = Flavor.fromWireName(in.ascii());
        if (flavor == null) {
            throw corrupt("unknown flavor");
        }
        long count = in.u32();
        if (count == 0 || count > MAX_TASKS) {
            throw corrupt(count + " tasks");
        }
        List<Heading> headings = new ArrayList<>((int) count);
        for (int i = 0; i < count; i++) {
            String tenant = TaskImage.strictName(in.bytes(in.u16()));
            String id = TaskImage.strictName(in.bytes(in.u16()));
            ErrorModel errors = ErrorModel.fromWireName(in.ascii());
            if (errors == null) {
                throw corrupt("unknown error model");
            }
            int nameLength = in.u16();
            if (nameLength > TaskImage.MAX_NAME_BYTES) {
                throw corrupt("name of " + nameLength + " bytes");
            }
            String name = nameLength == 0 ? null : TaskImage.strictName(in.bytes(nameLength));
            headings.add(new Heading(tenant, id, name, errors));
        }
        return new GroupImageReader(in, flavor, List.copyOf(headings));
    }

    public Flavor flavor() {
        return flavor;
    }

    /** The tasks of the image, in its order. */
    public List<Heading> headings() {
        return headings;
    }

    /**
     * Reads the rest of the image into new maps over {@code store}, in the order of {@link #headings()}, task
     * {@code i} drawing from {@code budgets.get(i)}; hands each page to {@code sink} as it lands.
     *
     * @throws KernException {@code KERN_INVALID_ARGUMENT} for a corrupt image, {@code KERN_RESOURCE_SHORTAGE} when the
     *                       store cannot hold its pages (checked before the first page is read)
     * @throws IOException   when reading the stream, or the sink, fails
     */
    public List<VmMap> restore(PageStore store, List<MapBudgets> budgets, PageSink sink) throws IOException {
        if (restored) {
            throw new IllegalStateException("the image has been read");
        }
        restored = true;
        if (store.pageSize() != flavor.pageSize() || budgets.size() != headings.size()) {
            throw new IllegalArgumentException("a store of " + flavor.wireName() + " pages and budgets for each task");
        }
        long pageCount = in.u64();
        if (pageCount < 0 || pageCount > Integer.MAX_VALUE - 8) {
            throw corrupt(pageCount + " pages");
        }
        if (pageCount > store.freePages()) {
            throw new KernException(KERN_RESOURCE_SHORTAGE, "the page store has room for " + store.freePages()
                    + " more page(s), not the " + pageCount + " of these tasks");
        }
        int[] handles = new int[(int) pageCount];
        int allocated = 0;
        try {
            int pageSize = flavor.pageSize();
            CRC32C pageCrc = new CRC32C();
            for (int i = 0; i < handles.length; i++) {
                if (i == allocated) {
                    int n = Math.min(PAGES_PER_ALLOCATION, handles.length - i);
                    try {
                        store.allocate(handles, i, n, false);
                    } catch (StoreExhaustedException e) {
                        throw new KernException(KERN_RESOURCE_SHORTAGE, e.getMessage());
                    }
                    allocated += n;
                }
                int at = in.page(pageSize);
                pageCrc.reset();
                pageCrc.update(in.bytes, at, pageSize);
                store.write(handles[i], 0, in.bytes, at, pageSize);
                if (in.s32() != (int) pageCrc.getValue()) {
                    throw corrupt("page " + i + " fails its checksum");
                }
                sink.page(store, handles[i]);
            }
            int[] uses = new int[handles.length];
            List<CheckpointImage> states = new ArrayList<>(headings.size());
            List<List<GroupRange>> ranges = new ArrayList<>(headings.size());
            for (Heading heading : headings) {
                List<CheckpointImage.Entry> entries = entries();
                List<GroupRange> taskRanges = ranges(entries);
                CheckpointImage.Pages own = pageMap(handles, uses, entries, taskRanges);
                states.add(new CheckpointImage(flavor, heading.errors(), entries, List.of(), own, Map.of()));
                ranges.add(taskRanges);
            }
            long memoryCount = in.u32();
            Map<Long, CheckpointImage.Pages> memories = new HashMap<>();
            for (long m = 0; m < memoryCount; m++) {
                memories.put(m, pageMap(handles, uses, null, null));
            }
            List<CheckpointImage> withRanges = new ArrayList<>(states.size());
            for (int t = 0; t < states.size(); t++) {
                List<CheckpointImage.Range> taskRanges = new ArrayList<>();
                for (GroupRange r : ranges.get(t)) {
                    if (r.memory() >= memoryCount) {
                        throw corrupt("a shared range names memory " + r.memory() + " of " + memoryCount);
                    }
                    taskRanges.add(new CheckpointImage.Range(r.startPage(), r.endPage(), r.memory(),
                            r.memoryStartPage()));
                }
                CheckpointImage s = states.get(t);
                withRanges.add(new CheckpointImage(flavor, s.errors(), s.entries(), taskRanges, s.pages(), Map.of()));
            }
            if (!Arrays.equals(in.bytes(TaskImage.END.length), TaskImage.END)) {
                throw corrupt("the end marker is missing");
            }
            int expected = in.checksum();
            if (in.s32() != expected) {
                throw corrupt("the image checksum does not match");
            }
            in.expectEnd();
            // The maps take over a reference for each use of a page; the one each page was made with goes after.
            for (int i = 0; i < handles.length; i++) {
                for (int u = 0; u < uses[i]; u++) {
                    store.retain(handles[i]);
                }
            }
            return Checkpoints.restore(store, withRanges, memories, budgets);
        } finally {
            store.releaseAll(handles, allocated);
        }
    }

    /** A shared range as read, before its memory is known to exist. */
    private record GroupRange(long startPage, long endPage, long memory, long memoryStartPage) {
    }

    private List<CheckpointImage.Entry> entries() throws IOException {
        long count = in.u32();
        if (count > TaskImage.MAX_ENTRIES) {
            throw corrupt(count + " entries");
        }
        List<CheckpointImage.Entry> entries = new ArrayList<>((int) Math.min(count, 1024));
        long previousEnd = flavor.minAddress();
        for (long i = 0; i < count; i++) {
            long start = in.u64();
            long end = in.u64();
            int protection = in.u8();
            int maxProtection = in.u8();
            VmInherit inheritance = VmInherit.fromValue(in.u8());
            long offset = in.u64();
            int shared = in.u8();
            if (!TaskImage.validEntry(flavor, previousEnd, start, end, protection, maxProtection, inheritance, offset)
                    || shared > 1) {
                throw corrupt("entry " + i + " is not a valid, ordered map entry");
            }
            entries.add(new CheckpointImage.Entry(start, end, protection, maxProtection, inheritance, offset,
                    shared == 1));
            previousEnd = end;
        }
        return entries;
    }

    /** The shared ranges: ascending, apart, each inside shared entries. */
    private List<GroupRange> ranges(List<CheckpointImage.Entry> entries) throws IOException {
        long count = in.u32();
        List<GroupRange> ranges = new ArrayList<>();
        long previousEnd = 0;
        for (long i = 0; i < count; i++) {
            GroupRange r = new GroupRange(in.u64(), in.u64(), in.u32(), in.u64());
            if (r.startPage() < previousEnd || r.endPage() <= r.startPage() || r.memoryStartPage() < 0
                    || r.memoryStartPage() > PageTable.MAX_PAGES - (r.endPage() - r.startPage())
                    || !inShared(entries, r.startPage(), r.endPage())) {
                throw corrupt("shared range " + i + " is not inside the task's shared entries");
            }
            ranges.add(r);
            previousEnd = r.endPage();
        }
        return ranges;
    }

    private boolean inShared(List<CheckpointImage.Entry> entries, long fromPage, long toPage) {
        int shift = flavor.pageShift();
        long page = fromPage;
        for (CheckpointImage.Entry e : entries) {
            if (e.end() >>> shift <= page) {
                continue;
            }
            if (e.start() >>> shift > page || !e.shared()) {
                return false;
            }
            page = e.end() >>> shift;
            if (page >= toPage) {
                return true;
            }
        }
        return false;
    }

    /**
     * A page map, counting each page's uses. With {@code entries}, a task's own pages: each inside an entry and
     * outside the shared ranges; without, a shared memory's. The lists grow as entries arrive, so a count that
     * the stream does not back costs nothing.
     */
    private CheckpointImage.Pages pageMap(int[] handles, int[] uses, List<CheckpointImage.Entry> entries,
            List<GroupRange> ranges) throws IOException {
        long count = in.u64();
        if (count < 0 || count > Integer.MAX_VALUE - 8) {
            throw corrupt(count + " pages in a page map");
        }
        LongList indexes = new LongList();
        IntList pageHandles = new IntList(16);
        int shift = flavor.pageShift();
        int entry = 0;
        int range = 0;
        long previous = -1;
        for (long i = 0; i < count; i++) {
            long index = in.u64();
            long number = in.u64();
            if (index <= previous || index >= PageTable.MAX_PAGES || number < 0 || number >= handles.length) {
                throw corrupt("page map entry " + i + " is out of order or names no page");
            }
            if (entries != null) {
                long address = index << shift;
                while (entry < entries.size() && Long.compareUnsigned(entries.get(entry).end(), address) <= 0) {
                    entry++;
                }
                while (range < ranges.size() && ranges.get(range).endPage() <= index) {
                    range++;
                }
                if (entry == entries.size() || Long.compareUnsigned(entries.get(entry).start(), address) > 0
                        || (range < ranges.size() && ranges.get(range).startPage() <= index)) {
                    throw corrupt("page " + index + " lies outside the task's own memory");
                }
            }
            indexes.add(index);
            pageHandles.add(handles[(int) number]);
            uses[(int) number]++;
            previous = index;
        }
        int n = indexes.size();
        long[] indexArray = new long[n];
        for (int i = 0; i < n; i++) {
            indexArray[i] = indexes.get(i);
        }
        return new CheckpointImage.Pages(true, indexArray, Arrays.copyOf(pageHandles.array(), n), new long[n], n);
    }

    /**
     * The stream through one buffer: fields are read from it, pages are handed out as positions in it, and every byte
     * but the page bytes goes into the image checksum.
     */
    private static final class Input {
        final byte[] bytes = new byte[GroupImage.BUFFER_BYTES];
        private final ByteBuffer buffer = ByteBuffer.wrap(bytes).limit(0);
        private final InputStream raw;
        private final CRC32C total = new CRC32C();
        /** Where the bytes read but not yet in {@link #total} start. */
        private int unsummed;

        Input(InputStream raw) {
            this.raw = raw;
        }

        /** Makes {@code length} bytes readable at the position, reading more from the stream as needed. */
        private void need(int length) throws IOException {
            if (buffer.remaining() >= length) {
                return;
            }
            sum();
            buffer.compact();
            unsummed = 0;
            try {
                while (buffer.position() < length) {
                    int n = raw.read(bytes, buffer.position(), buffer.remaining());
                    if (n < 0) {
                        throw corrupt("it is truncated");
                    }
                    buffer.position(buffer.position() + n);
                }
            } finally {
                buffer.flip();
            }
        }

        private void sum() {
            total.update(bytes, unsummed, buffer.position() - unsummed);
            unsummed = buffer.position();
        }

        int u8() throws IOException {
            need(1);
            return buffer.get() & 0xFF;
        }

        int u16() throws IOException {
            need(2);
            return buffer.getShort() & 0xFFFF;
        }

        int s32() throws IOException {
            need(4);
            return buffer.getInt();
        }

        long u32() throws IOException {
            return s32() & 0xFFFF_FFFFL;
        }

        long u64() throws IOException {
            need(8);
            return buffer.getLong();
        }

        byte[] bytes(int length) throws IOException {
            need(length);
            byte[] out = new byte[length];
            buffer.get(out);
            return out;
        }

        String ascii() throws IOException {
            int length = u8();
            if (length == 0 || length > 16) {
                throw corrupt("a name field of " + length + " bytes");
            }
            return new String(bytes(length), StandardCharsets.US_ASCII);
        }

        /** The position of the next {@code length} bytes, a page's, which stay out of the checksum. */
        int page(int length) throws IOException {
            need(length);
            sum();
            int at = buffer.position();
            buffer.position(at + length);
            unsummed = buffer.position();
            return at;
        }

        /** The checksum of everything read so far but the page bytes. */
        int checksum() {
            sum();
            return (int) total.getValue();
        }

        void expectEnd() throws IOException {
            if (buffer.hasRemaining() || raw.read() != -1) {
                throw corrupt("bytes follow the end of the image");
            }
        }
    }
}
