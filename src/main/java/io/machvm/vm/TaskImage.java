package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.KERN_RESOURCE_SHORTAGE;

import io.machvm.store.PageStore;
import io.machvm.store.StoreExhaustedException;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;
import java.util.zip.CheckedOutputStream;
import java.util.zip.Checksum;

/**
 * A portable, versioned binary image of a task: its flavor, error model, name, map entries and resident pages only,
 * each page with a CRC-32C and the whole image with another. Taken with {@link VmMap#exportImage}, written with
 * {@link #writeTo}, and restored with {@link #read} into a new map, byte for byte.
 *
 * <p>Format, big-endian: {@code "MACHVMTI"}, u16 version (1), u8+ASCII flavor, u8+ASCII error model, u16+UTF-8
 * name (0: none), u32 entry count, entries ({@code u64 start, u64 end, u8 protection, u8 max protection,
 * u8 inheritance, u64 offset}), u64 page count, pages ({@code u64 page index, page bytes, u32 CRC-32C of index and
 * bytes}, indexes ascending), {@code "MACHVMEN"}, u32 CRC-32C of everything before it. Several tasks that keep
 * sharing their pages travel in the group form, version 2 ({@link GroupImage}).
 */
public final class TaskImage extends HeldPages {
    /** The media type of an image over HTTP. */
    public static final String MEDIA_TYPE = "application/vnd.machvm.snapshot";
    static final byte[] MAGIC = "MACHVMTI".getBytes(StandardCharsets.US_ASCII);
    static final byte[] END = "MACHVMEN".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    static final int MAX_ENTRIES = 1 << 24;
    static final int MAX_NAME_BYTES = 1024;

    private final Flavor flavor;
    private final ErrorModel errors;
    private final String name;
    private final List<RegionInfo> regions;
    private final long[] pageIndexes;

    TaskImage(PageStore store, Flavor flavor, ErrorModel errors, String name, List<RegionInfo> regions,
            long[] pageIndexes, int[] handles) {
        super(store, handles);
        this.flavor = flavor;
        this.errors = errors;
        this.name = name;
        this.regions = regions;
        this.pageIndexes = pageIndexes;
    }

    /** The number of bytes {@link #writeTo} writes. */
    public long sizeBytes() {
        int nameBytes = nameBytes(name).length;
        return MAGIC.length + 2 + 1 + flavor.wireName().length() + 1 + errors.wireName().length() + 2 + nameBytes
                + 4 + (long) regions.size() * (8 + 8 + 3 + 8) + 8
                + (long) pageIndexes.length * (8 + flavor.pageSize() + 4) + END.length + 4;
    }

    /** Writes the image; the pages are the ones referenced when it was taken. */
    public void writeTo(OutputStream raw) throws IOException {
        CRC32C total = new CRC32C();
        DataOutputStream out = new DataOutputStream(new CheckedOutputStream(new BufferedOutputStream(raw, 65536),
                total));
        out.write(MAGIC);
        out.writeShort(VERSION);
        writeAscii(out, flavor.wireName());
        writeAscii(out, errors.wireName());
        byte[] nameBytes = nameBytes(name);
        out.writeShort(nameBytes.length);
        out.write(nameBytes);
        out.writeInt(regions.size());
        for (RegionInfo r : regions) {
            out.writeLong(r.address());
            out.writeLong(r.address() + r.size());
            out.writeByte(r.protection());
            out.writeByte(r.maxProtection());
            out.writeByte(r.inheritance().value());
            out.writeLong(r.offset());
        }
        out.writeLong(pageIndexes.length);
        int pageSize = flavor.pageSize();
        byte[] page = new byte[pageSize];
        CRC32C pageCrc = new CRC32C();
        for (int i = 0; i < pageIndexes.length; i++) {
            store.read(handles[i], 0, page, 0, pageSize);
            out.writeLong(pageIndexes[i]);
            out.write(page);
            pageCrc.reset();
            updateLong(pageCrc, pageIndexes[i]);
            pageCrc.update(page);
            out.writeInt((int) pageCrc.getValue());
        }
        out.write(END);
        out.flush();
        int checksum = (int) total.getValue();
        out.writeInt(checksum);
        out.flush();
    }

    private static void writeAscii(DataOutputStream out, String text) throws IOException {
        out.writeByte(text.length());
        out.write(text.getBytes(StandardCharsets.US_ASCII));
    }

    private static void updateLong(Checksum crc, long value) {
        for (int shift = 56; shift >= 0; shift -= 8) {
            crc.update((int) (value >>> shift) & 0xFF);
        }
    }

    /** A map restored from an image, with the name it carried. */
    public record Restored(VmMap map, String name) {
    }

    /**
     * Reads an image into a new map; a corrupt, truncated or inconsistent image is refused with
     * {@code KERN_INVALID_ARGUMENT} and creates nothing.
     *
     * @param stores the store for each flavor
     * @throws IOException when reading the source itself fails
     */
    public static Restored read(InputStream raw, Function<Flavor, PageStore> stores) throws IOException {
        return read(raw, stores, MapBudgets.unlimited());
    }

    /**
     * Reads an image as {@link #read(InputStream, Function)} into a map drawing from {@code budgets}: an image with
     * more entries or pages than they allow is refused with {@code KERN_RESOURCE_SHORTAGE} as soon as its counts are
     * read, before its entries or pages are.
     */
    public static Restored read(InputStream raw, Function<Flavor, PageStore> stores, MapBudgets budgets)
            throws IOException {
        CRC32C total = new CRC32C();
        DataInputStream in = new DataInputStream(new CheckedInputStream(raw, total));
        IntList handles = new IntList(64);
        PageStore store = null;
        VmMap map = null;
        boolean done = false;
        try {
            byte[] magic = new byte[MAGIC.length];
            in.readFully(magic);
            if (!Arrays.equals(magic, MAGIC)) {
                throw corrupt("it does not start with " + new String(MAGIC, StandardCharsets.US_ASCII));
            }
            int version = in.readUnsignedShort();
            if (version != VERSION) {
                throw corrupt("version " + version + " is not supported (this service reads version " + VERSION + ")");
            }
            Flavor flavor = Flavor.fromWireName(readAscii(in));
            if (flavor == null) {
                throw corrupt("unknown flavor");
            }
            ErrorModel errors = ErrorModel.fromWireName(readAscii(in));
            if (errors == null) {
                throw corrupt("unknown error model");
            }
            int nameLength = in.readUnsignedShort();
            if (nameLength > MAX_NAME_BYTES) {
                throw corrupt("name of " + nameLength + " bytes");
            }
            byte[] nameBytes = new byte[nameLength];
            in.readFully(nameBytes);
            String name = nameLength == 0 ? null : strictName(nameBytes);
            store = stores.apply(flavor);
            map = new VmMap(store, flavor, errors, budgets);
            long entryCount = in.readInt() & 0xFFFF_FFFFL;
            if (entryCount > MAX_ENTRIES) {
                throw corrupt(entryCount + " entries");
            }
            MapImages.reserveForRestore(map, entryCount, 0);
            long previousEnd = flavor.minAddress();
            List<VmEntry> entries = new ArrayList<>();
            for (long i = 0; i < entryCount; i++) {
                long start = in.readLong();
                long end = in.readLong();
                int protection = in.readUnsignedByte();
                int maxProtection = in.readUnsignedByte();
                VmInherit inheritance = VmInherit.fromValue(in.readUnsignedByte());
                long offset = in.readLong();
                if (!validEntry(flavor, previousEnd, start, end, protection, maxProtection, inheritance, offset)) {
                    throw corrupt("entry " + i + " is not a valid, ordered map entry");
                }
                entries.add(new VmEntry(start, end, protection, maxProtection, inheritance, i + 1, offset, false));
                previousEnd = end;
            }
            long pageCount = in.readLong();
            long mappedPages = 0;
            for (VmEntry e : entries) {
                mappedPages += e.size() >>> flavor.pageShift();
            }
            if (pageCount < 0 || pageCount > mappedPages) {
                throw corrupt(pageCount + " pages for " + mappedPages + " mapped pages");
            }
            MapImages.reserveForRestore(map, 0, pageCount);
            int pageSize = flavor.pageSize();
            byte[] page = new byte[pageSize];
            CRC32C pageCrc = new CRC32C();
            LongList indexes = new LongList();
            long previousIndex = -1;
            int entryCursor = 0;
            int[] one = new int[1];
            for (long i = 0; i < pageCount; i++) {
                long index = in.readLong();
                in.readFully(page);
                pageCrc.reset();
                updateLong(pageCrc, index);
                pageCrc.update(page);
                if (in.readInt() != (int) pageCrc.getValue()) {
                    throw corrupt("page " + i + " fails its checksum");
                }
                if (index <= previousIndex) {
                    throw corrupt("page indexes are not ascending");
                }
                long address = index << flavor.pageShift();
                while (entryCursor < entries.size() && entries.get(entryCursor).end <= address) {
                    entryCursor++;
                }
                if (entryCursor == entries.size() || entries.get(entryCursor).start > address
                        || (index >>> (63 - flavor.pageShift())) != 0) {
                    throw corrupt("page " + i + " lies outside every entry");
                }
                try {
                    store.allocate(one, 0, 1, false);
                } catch (StoreExhaustedException e) {
                    throw new KernException(KERN_RESOURCE_SHORTAGE, e.getMessage());
                }
                handles.add(one[0]);
                store.write(one[0], 0, page, 0, pageSize);
                indexes.add(index);
                previousIndex = index;
            }
            byte[] end = new byte[END.length];
            in.readFully(end);
            if (!Arrays.equals(end, END)) {
                throw corrupt("the end marker is missing");
            }
            int expected = (int) total.getValue();
            if (in.readInt() != expected) {
                throw corrupt("the image checksum does not match");
            }
            if (raw.read() != -1) {
                throw corrupt("bytes follow the end of the image");
            }
            MapImages.restore(map, entries, indexes, handles);
            done = true;
            return new Restored(map, name);
        } catch (EOFException truncated) {
            throw corrupt("it is truncated");
        } finally {
            if (!done && store != null) {
                store.releaseAll(handles.array(), handles.size());
            }
            if (!done && map != null) {
                map.terminate(); // gives back what it reserved
            }
        }
    }

    /** Whether an entry read from an image is page-aligned, inside the flavor's map, after {@code previousEnd}. */
    static boolean validEntry(Flavor flavor, long previousEnd, long start, long end, int protection,
            int maxProtection, VmInherit inheritance, long offset) {
        long pageMask = flavor.pageSize() - 1L;
        return ((start | end | offset) & pageMask) == 0 && Long.compareUnsigned(start, previousEnd) >= 0
                && Long.compareUnsigned(end, start) > 0 && Long.compareUnsigned(end, flavor.maxAddress()) <= 0
                && offset >= 0 && protection <= VmProt.ALL && maxProtection <= VmProt.ALL
                && (protection & ~maxProtection) == 0 && inheritance != null;
    }

    /**
     * Decodes a name that must be well-formed UTF-8: a lenient decoding would replace bad bytes, and the task would
     * then re-export with a name other than the one it was restored from.
     */
    static String strictName(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw corrupt("the name is not well-formed UTF-8");
        }
    }

    /**
     * The name's UTF-8 bytes; a name that UTF-8 cannot carry exactly (a lone surrogate) is refused, as it could not
     * be restored as it was.
     */
    static byte[] nameBytes(String name) {
        if (name == null) {
            return new byte[0];
        }
        try {
            java.nio.ByteBuffer encoded = StandardCharsets.UTF_8.newEncoder().encode(java.nio.CharBuffer.wrap(name));
            byte[] bytes = new byte[encoded.remaining()];
            encoded.get(bytes);
            return bytes;
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new KernException(KERN_INVALID_ARGUMENT, "the task name is not well-formed Unicode");
        }
    }

    private static String readAscii(DataInputStream in) throws IOException {
        int length = in.readUnsignedByte();
        if (length == 0 || length > 16) {
            throw corrupt("a name field of " + length + " bytes");
        }
        byte[] bytes = new byte[length];
        in.readFully(bytes);
        return new String(bytes, StandardCharsets.US_ASCII);
    }

    static KernException corrupt(String why) {
        return new KernException(KERN_INVALID_ARGUMENT, "the snapshot image is corrupt: " + why);
    }
}
