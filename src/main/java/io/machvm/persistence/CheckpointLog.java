package io.machvm.persistence;

import io.machvm.store.PageStore;
import io.machvm.vm.CheckpointImage;
import io.machvm.vm.Checkpoints;
import io.machvm.vm.ErrorModel;
import io.machvm.vm.Flavor;
import io.machvm.vm.MapBudgets;
import io.machvm.vm.VmInherit;
import io.machvm.vm.VmMap;
import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;

/**
 * The shard's checkpoint log: one file of passes, each a run of records closed by a commit record with the CRC-32C of
 * the pass. A pass holds the page contents not yet in the log (each store page once, keyed by its content id) and,
 * for each task that changed, its entries, shared ranges and the changed part of its page table as (page index,
 * content id) pairs; for each shared memory likewise; and the tasks deleted. Replaying the committed passes in order
 * gives the state of the last one; a torn last pass (a crash while it was written) is ignored. Tasks that shared a
 * page point at one content id, so a restore allocates that page once and the tasks share it again.
 *
 * <p>Format, big-endian: {@code "MACHVMCK"}, u16 version (1); then records, each a u8 type:
 * {@code 'P'} u64 content id, u32 length, bytes; {@code 'T'} tenant, id, name (u16 length + UTF-8 each, name
 * length 0xFFFF for none), u8+ASCII flavor, u8+ASCII error model, u8 full, u32 entries ({@code u64 start, u64 end,
 * u8 protection, u8 max protection, u8 inheritance, u64 offset, u8 shared}), u32 ranges ({@code u64 start page,
 * u64 end page, u64 memory id, u64 memory start page}), u32 pages ({@code u64 index, u64 content id}, 0: none);
 * {@code 'M'} u64 memory id, u8 full, u32 pages as above; {@code 'D'} tenant, id; {@code 'C'} u64 pass number,
 * u32 CRC-32C of the pass's bytes before it.
 */
public final class CheckpointLog {
    public static final String FILE = "checkpoint.machvm-log";
    static final byte[] MAGIC = "MACHVMCK".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    private static final int NO_NAME = 0xFFFF;

    private CheckpointLog() {
    }

    // ------------------------------------------------------------------------------------------------ writing

    /**
     * Appends passes to a log file. Records are assembled in one direct buffer, which page bytes are copied into
     * straight from the store's slab and which the checksum and the channel read without further copies: a pass of
     * many pages costs one copy in memory and one into the kernel. Not thread-safe.
     */
    static final class Appender implements Closeable {
        private static final int BUFFER_BYTES = 1 << 20;
        private final FileChannel channel;
        private final CRC32C crc = new CRC32C();
        private final ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES);
        private long written;
        /** Whether a {@link #forceAhead} is under way, and where the last one started. */
        private final AtomicBoolean forcing = new AtomicBoolean();
        private long forcedAhead;

        /** Opens {@code file} for appending; with {@code fresh} it is created empty (or truncated) with a header. */
        Appender(Path file, boolean fresh) throws IOException {
            channel = fresh
                    ? FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                            StandardOpenOption.WRITE)
                    : FileChannel.open(file, StandardOpenOption.WRITE);
            try {
                written = channel.size();
                channel.position(written);
                if (fresh) {
                    buffer.put(MAGIC).putShort((short) VERSION);
                    drain(false);
                }
            } catch (IOException | RuntimeException e) {
                channel.close();
                throw e;
            }
        }

        /** Bytes in the file once what was written is flushed. */
        long size() {
            return written + buffer.position();
        }

        void page(long contentId, PageStore store, int handle) throws IOException {
            ByteBuffer page = store.view(handle);
            room(1 + 8 + 4 + page.remaining());
            buffer.put((byte) 'P').putLong(contentId).putInt(page.remaining()).put(page);
        }

        void task(DurableTask task, CheckpointImage taken) throws IOException {
            room(1);
            buffer.put((byte) 'T');
            writeText(task.tenant());
            writeText(task.id());
            if (task.name() == null) {
                room(2);
                buffer.putShort((short) NO_NAME);
            } else {
                writeText(task.name());
            }
            writeAscii(taken.flavor().wireName());
            writeAscii(taken.errors().wireName());
            room(1 + 4);
            buffer.put((byte) (taken.pages().full() ? 1 : 0)).putInt(taken.entries().size());
            for (CheckpointImage.Entry e : taken.entries()) {
                room(8 + 8 + 3 + 8 + 1);
                buffer.putLong(e.start()).putLong(e.end()).put((byte) e.protection()).put((byte) e.maxProtection())
                        .put((byte) e.inheritance().value()).putLong(e.offset()).put((byte) (e.shared() ? 1 : 0));
            }
            room(4);
            buffer.putInt(taken.ranges().size());
            for (CheckpointImage.Range r : taken.ranges()) {
                room(32);
                buffer.putLong(r.startPage()).putLong(r.endPage()).putLong(r.memoryId())
                        .putLong(r.memoryStartPage());
            }
            pageMap(taken.pages());
        }

        void memory(long memoryId, CheckpointImage.Pages pages) throws IOException {
            room(1 + 8 + 1);
            buffer.put((byte) 'M').putLong(memoryId).put((byte) (pages.full() ? 1 : 0));
            pageMap(pages);
        }

        void delete(String tenant, String id) throws IOException {
            room(1);
            buffer.put((byte) 'D');
            writeText(tenant);
            writeText(id);
        }

        /**
         * Starts forcing what the file holds to disk in the background once {@code bytes} more have been written since
         * the last time, unless that is still under way: a long pass (an import) then leaves the commit's force only
         * its tail to write, instead of all of it after the last byte.
         */
        void forceAhead(long bytes) {
            if (written - forcedAhead >= bytes && forcing.compareAndSet(false, true)) {
                forcedAhead = written;
                Thread.ofVirtual().name("checkpoint-force-ahead").start(() -> {
                    try {
                        channel.force(false);
                    } catch (IOException | RuntimeException e) {
                        // the commit's own force reports a failing disk; this one only saves it time
                    } finally {
                        forcing.set(false);
                    }
                });
            }
        }

        /** Closes the pass and forces it to disk: once this returns, the pass survives a crash. */
        void commit(long passNumber) throws IOException {
            room(1 + 8);
            buffer.put((byte) 'C').putLong(passNumber);
            drain(true);
            buffer.putInt((int) crc.getValue());
            drain(false);
            crc.reset();
            channel.force(false);
        }

        private void pageMap(CheckpointImage.Pages pages) throws IOException {
            room(4);
            buffer.putInt(pages.count());
            for (int i = 0; i < pages.count(); i++) {
                room(16);
                buffer.putLong(pages.indexes()[i]).putLong(pages.contentIds()[i]);
            }
        }

        private void writeText(String text) throws IOException {
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            room(2 + bytes.length);
            buffer.putShort((short) bytes.length).put(bytes);
        }

        private void writeAscii(String text) throws IOException {
            room(1 + text.length());
            buffer.put((byte) text.length()).put(text.getBytes(StandardCharsets.US_ASCII));
        }

        /** Makes room for {@code bytes} in the buffer (at most its size), writing out what it holds. */
        private void room(int bytes) throws IOException {
            if (buffer.remaining() < bytes) {
                drain(true);
            }
        }

        /** Writes out the buffer, adding it to the pass's checksum unless {@code checksum} is false. */
        private void drain(boolean checksum) throws IOException {
            buffer.flip();
            if (checksum) {
                crc.update(buffer.duplicate());
            }
            while (buffer.hasRemaining()) {
                written += channel.write(buffer);
            }
            buffer.clear();
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }

    // ------------------------------------------------------------------------------------------------ reading

    /** A task as the log's committed passes leave it. */
    private static final class TaskState {
        String tenant;
        String id;
        String name;
        Flavor flavor;
        ErrorModel errors;
        List<CheckpointImage.Entry> entries;
        List<CheckpointImage.Range> ranges;
        final LongLongMap pages = new LongLongMap();
    }

    /** A task read back from the log. */
    public record RestoredTask(String tenant, String id, String name, VmMap map) {
    }

    /** What {@link #recover} gives back: the tasks, and the ones that could not be restored (with why). */
    public record Recovery(List<RestoredTask> tasks, List<String> failures, long passes, boolean tornTail) {
    }

    /**
     * Replays the committed passes of {@code file} and builds the tasks they leave, each store page allocated once
     * however many tasks share it. The maps draw from unlimited budgets.
     */
    public static Recovery recover(Path file, Function<Flavor, PageStore> stores) throws IOException {
        return recover(file, stores, tenant -> MapBudgets.unlimited());
    }

    /**
     * Replays the committed passes of {@code file} and builds the tasks they leave, each store page allocated once
     * however many tasks share it; each task's map draws from {@code budgets} of its tenant. Budgets never refuse a
     * restore ({@link Checkpoints#restore}): a task that was kept comes back, charged in full even past them.
     */
    public static Recovery recover(Path file, Function<Flavor, PageStore> stores,
            Function<String, MapBudgets> budgets) throws IOException {
        Map<String, TaskState> tasks = new LinkedHashMap<>();
        Map<Long, LongLongMap> memories = new HashMap<>();
        LongLongMap contentAt = new LongLongMap();
        long passes = 0;
        boolean torn = false;
        try (InputStream file0 = Files.newInputStream(file)) {
            Counting counted = new Counting(new BufferedInputStream(file0, 1 << 16));
            CRC32C crc = new CRC32C();
            DataInputStream in = new DataInputStream(new CheckedInputStream(counted, crc));
            byte[] magic = new byte[MAGIC.length];
            in.readFully(magic);
            if (!Arrays.equals(magic, MAGIC) || in.readUnsignedShort() != VERSION) {
                throw new IOException(file + " is not a checkpoint log of version " + VERSION);
            }
            crc.reset();
            List<Runnable> pending = new ArrayList<>();
            byte[] scratch = new byte[65536];
            try {
                while (true) {
                    int type = in.read();
                    if (type < 0) {
                        torn = !pending.isEmpty();
                        break;
                    }
                    switch (type) {
                        case 'P' -> {
                            long contentId = in.readLong();
                            int length = in.readInt();
                            if (length <= 0 || length > scratch.length) {
                                throw new IOException("bad page length " + length);
                            }
                            long offset = counted.position;
                            in.readFully(scratch, 0, length);
                            pending.add(() -> contentAt.put(contentId, offset));
                        }
                        case 'T' -> {
                            TaskState t = new TaskState();
                            t.tenant = readText(in);
                            t.id = readText(in);
                            int nameLength = in.readUnsignedShort();
                            if (nameLength != NO_NAME) {
                                byte[] name = new byte[nameLength];
                                in.readFully(name);
                                t.name = new String(name, StandardCharsets.UTF_8);
                            }
                            t.flavor = Flavor.fromWireName(readAscii(in));
                            t.errors = ErrorModel.fromWireName(readAscii(in));
                            if (t.flavor == null || t.errors == null) {
                                throw new IOException("unknown flavor or error model");
                            }
                            boolean full = in.readUnsignedByte() == 1;
                            int entryCount = in.readInt();
                            List<CheckpointImage.Entry> entries = new ArrayList<>(Math.min(entryCount, 1 << 16));
                            for (int i = 0; i < entryCount; i++) {
                                CheckpointImage.Entry entry = new CheckpointImage.Entry(in.readLong(), in.readLong(),
                                        in.readUnsignedByte(), in.readUnsignedByte(),
                                        VmInherit.fromValue(in.readUnsignedByte()), in.readLong(),
                                        in.readUnsignedByte() == 1);
                                if (entry.inheritance() == null) {
                                    throw new IOException("bad inheritance");
                                }
                                entries.add(entry);
                            }
                            int rangeCount = in.readInt();
                            List<CheckpointImage.Range> ranges = new ArrayList<>(Math.min(rangeCount, 1 << 16));
                            for (int i = 0; i < rangeCount; i++) {
                                ranges.add(new CheckpointImage.Range(in.readLong(), in.readLong(), in.readLong(),
                                        in.readLong()));
                            }
                            long[][] map = readPageMap(in);
                            String key = key(t.tenant, t.id);
                            pending.add(() -> {
                                TaskState live = tasks.get(key);
                                if (live == null || full) {
                                    if (live == null) {
                                        live = t;
                                        tasks.put(key, t);
                                    }
                                    live.pages.clear();
                                }
                                live.name = t.name;
                                live.flavor = t.flavor;
                                live.errors = t.errors;
                                live.entries = entries;
                                live.ranges = ranges;
                                apply(live.pages, map);
                            });
                        }
                        case 'M' -> {
                            long memoryId = in.readLong();
                            boolean full = in.readUnsignedByte() == 1;
                            long[][] map = readPageMap(in);
                            pending.add(() -> {
                                LongLongMap m = memories.computeIfAbsent(memoryId, k -> new LongLongMap());
                                if (full) {
                                    m.clear();
                                }
                                apply(m, map);
                            });
                        }
                        case 'D' -> {
                            String key = key(readText(in), readText(in));
                            pending.add(() -> tasks.remove(key));
                        }
                        case 'C' -> {
                            in.readLong();
                            int expected = (int) crc.getValue();
                            int actual = in.readInt();
                            if (actual != expected) {
                                torn = true;
                                break;
                            }
                            crc.reset();
                            pending.forEach(Runnable::run);
                            pending.clear();
                            passes++;
                            continue;
                        }
                        default -> throw new IOException("unknown record type " + type);
                    }
                    if (torn) {
                        break;
                    }
                }
            } catch (IOException tornOrCorrupt) {
                torn = true; // the last pass did not finish: it is ignored, as if the crash came just before it
            }
        }
        return build(file, tasks, memories, contentAt, stores, budgets, passes, torn);
    }

    private static Recovery build(Path file, Map<String, TaskState> tasks, Map<Long, LongLongMap> memories,
            LongLongMap contentAt, Function<Flavor, PageStore> stores, Function<String, MapBudgets> budgets, long passes,
            boolean torn) throws IOException {
        List<RestoredTask> restored = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            // Tasks of one flavor share a store; each store page is made once and referenced by all who share it.
            Map<Flavor, List<TaskState>> byFlavor = new LinkedHashMap<>();
            for (TaskState t : tasks.values()) {
                byFlavor.computeIfAbsent(t.flavor, f -> new ArrayList<>()).add(t);
            }
            for (Map.Entry<Flavor, List<TaskState>> group : byFlavor.entrySet()) {
                Flavor flavor = group.getKey();
                PageStore store = stores.apply(flavor);
                LongLongMap handleOf = new LongLongMap();
                IntListLike all = new IntListLike();
                try {
                    List<CheckpointImage> states = new ArrayList<>();
                    List<MapBudgets> stateBudgets = new ArrayList<>();
                    Map<Long, CheckpointImage.Pages> usedMemories = new HashMap<>();
                    ByteBuffer page = ByteBuffer.allocate(flavor.pageSize());
                    for (TaskState t : group.getValue()) {
                        CheckpointImage.Pages own = pagesOf(t.pages, handleOf, contentAt, store, channel, page, all);
                        for (CheckpointImage.Range r : t.ranges) {
                            if (!usedMemories.containsKey(r.memoryId())) {
                                LongLongMap m = memories.getOrDefault(r.memoryId(), new LongLongMap());
                                usedMemories.put(r.memoryId(),
                                        pagesOf(m, handleOf, contentAt, store, channel, page, all));
                            }
                        }
                        states.add(new CheckpointImage(flavor, t.errors, t.entries, t.ranges, own, Map.of()));
                        stateBudgets.add(budgets.apply(t.tenant));
                    }
                    List<VmMap> maps = Checkpoints.restore(store, states, usedMemories, stateBudgets);
                    // The maps took over the references; the restore's own first reference of each page goes.
                    handleOf.forEach((cid, h) -> store.release((int) h));
                    all.count = 0;
                    for (int i = 0; i < maps.size(); i++) {
                        TaskState t = group.getValue().get(i);
                        restored.add(new RestoredTask(t.tenant, t.id, t.name, maps.get(i)));
                    }
                } catch (IOException | RuntimeException e) {
                    for (int i = 0; i < all.count; i++) {
                        store.release(all.handles[i]);
                    }
                    handleOf.forEach((cid, h) -> store.release((int) h));
                    failures.add(flavor.wireName() + " tasks (" + group.getValue().size() + "): " + e.getMessage());
                }
            }
        }
        return new Recovery(restored, failures, passes, torn);
    }

    /** Handles for a table's pages: a content id seen before is the same page, referenced once more. */
    private static CheckpointImage.Pages pagesOf(LongLongMap table, LongLongMap handleOf, LongLongMap contentAt,
            PageStore store, FileChannel channel, ByteBuffer page, IntListLike all) throws IOException {
        long[] indexes = new long[table.size()];
        int[] handles = new int[table.size()];
        int[] n = {0};
        IOException[] failure = {null};
        table.forEach((index, contentId) -> {
            if (failure[0] != null) {
                return;
            }
            try {
                long h = handleOf.get(contentId, 0);
                if (h == 0) {
                    long offset = contentAt.get(contentId, -1);
                    if (offset < 0) {
                        throw new IOException("page content " + contentId + " is missing from the log");
                    }
                    int handle = store.allocateZeroed();
                    handleOf.put(contentId, handle);
                    page.clear();
                    while (page.hasRemaining()) {
                        if (channel.read(page, offset + page.position()) < 0) {
                            throw new EOFException("the log ends inside a page");
                        }
                    }
                    page.flip();
                    store.write(handle, 0, page);
                    h = handle;
                }
                store.retain((int) h);
                all.add((int) h);
                indexes[n[0]] = index;
                handles[n[0]] = (int) h;
                n[0]++;
            } catch (IOException e) {
                failure[0] = e;
            }
        });
        if (failure[0] != null) {
            throw failure[0];
        }
        return new CheckpointImage.Pages(true, indexes, handles, new long[n[0]], n[0]);
    }

    /** References taken while building, given back if the build fails. */
    private static final class IntListLike {
        int[] handles = new int[64];
        int count;

        void add(int h) {
            if (count == handles.length) {
                handles = Arrays.copyOf(handles, count * 2);
            }
            handles[count++] = h;
        }
    }

    private static void apply(LongLongMap table, long[][] map) {
        for (int i = 0; i < map[0].length; i++) {
            if (map[1][i] == 0) {
                table.remove(map[0][i]);
            } else {
                table.put(map[0][i], map[1][i]);
            }
        }
    }

    private static long[][] readPageMap(DataInputStream in) throws IOException {
        int count = in.readInt();
        if (count < 0) {
            throw new IOException("bad page count");
        }
        long[] indexes = new long[count];
        long[] ids = new long[count];
        for (int i = 0; i < count; i++) {
            indexes[i] = in.readLong();
            ids[i] = in.readLong();
        }
        return new long[][] {indexes, ids};
    }

    static String key(String tenant, String id) {
        return tenant + '\0' + id;
    }

    private static String readText(DataInputStream in) throws IOException {
        byte[] bytes = new byte[in.readUnsignedShort()];
        in.readFully(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static String readAscii(DataInputStream in) throws IOException {
        byte[] bytes = new byte[in.readUnsignedByte()];
        in.readFully(bytes);
        return new String(bytes, StandardCharsets.US_ASCII);
    }

    /** Counts the bytes read, to know where each page's bytes lie in the file. */
    private static final class Counting extends FilterInputStream {
        long position;

        Counting(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                position++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                position += n;
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long skipped = super.skip(n);
            position += skipped;
            return skipped;
        }
    }
}
