import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;

/**
 * What fresh memory costs on this machine: allocates 1 GiB as 16 slabs of 64 MiB (as the page store allocates its
 * slabs), touches every 4 KiB, and prints the time; ROUNDS times, giving the slabs back in between.
 *
 * <p>{@code direct} (the default) allocates each slab with {@code ByteBuffer.allocateDirect}, as the page store does.
 * {@code huge} maps each slab with {@code mmap} and asks for transparent huge pages ({@code madvise(MADV_HUGEPAGE)}),
 * as a store that maps its own slabs could; Linux only.
 *
 * <pre>java -XX:MaxDirectMemorySize=4g bench/TouchMemory.java [ROUNDS] [direct|huge]
 * java --enable-native-access=ALL-UNNAMED bench/TouchMemory.java 3 huge</pre>
 */
public class TouchMemory {
    private static final int SLAB_BYTES = 64 << 20;
    private static final int SLABS = 16;
    private static final long HUGE_PAGE_BYTES = 2L << 20;

    public static void main(String[] args) throws Throwable {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        boolean huge = args.length > 1 && args[1].equals("huge");
        Mapper mapper = huge ? new Mapper() : null;
        for (int r = 0; r < rounds; r++) {
            long start = System.nanoTime();
            ByteBuffer[] slabs = new ByteBuffer[SLABS];
            MemorySegment[] mapped = new MemorySegment[SLABS];
            for (int s = 0; s < SLABS; s++) {
                if (huge) {
                    mapped[s] = mapper.map(SLAB_BYTES + HUGE_PAGE_BYTES);
                    long aligned = (mapped[s].address() + HUGE_PAGE_BYTES - 1) & -HUGE_PAGE_BYTES;
                    MemorySegment slab = MemorySegment.ofAddress(aligned).reinterpret(SLAB_BYTES);
                    mapper.adviseHugePages(slab);
                    slabs[s] = slab.asByteBuffer();
                } else {
                    slabs[s] = ByteBuffer.allocateDirect(SLAB_BYTES);
                }
                for (int i = 0; i < SLAB_BYTES; i += 4096) {
                    slabs[s].put(i, (byte) 1);
                }
            }
            System.out.printf("1 GiB of fresh %s memory touched in %.3f s%n", huge ? "huge-page" : "direct",
                    (System.nanoTime() - start) / 1e9);
            slabs = null;
            if (huge) {
                for (MemorySegment m : mapped) {
                    mapper.unmap(m, SLAB_BYTES + HUGE_PAGE_BYTES);
                }
            }
            System.gc();
            Thread.sleep(300);
        }
    }

    /** {@code mmap}, {@code madvise} and {@code munmap} of the C library. */
    private static final class Mapper {
        private final MethodHandle mmap;
        private final MethodHandle madvise;
        private final MethodHandle munmap;

        Mapper() {
            Linker linker = Linker.nativeLinker();
            var libc = linker.defaultLookup();
            var address = ValueLayout.ADDRESS;
            var size = ValueLayout.JAVA_LONG;
            var integer = ValueLayout.JAVA_INT;
            mmap = linker.downcallHandle(libc.findOrThrow("mmap"),
                    FunctionDescriptor.of(address, address, size, integer, integer, integer, size));
            madvise = linker.downcallHandle(libc.findOrThrow("madvise"), FunctionDescriptor.of(integer, address, size, integer));
            munmap = linker.downcallHandle(libc.findOrThrow("munmap"), FunctionDescriptor.of(integer, address, size));
        }

        MemorySegment map(long bytes) throws Throwable {
            // PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS
            MemorySegment m = (MemorySegment) mmap.invokeExact(MemorySegment.NULL, bytes, 0x3, 0x22, -1, 0L);
            if (m.address() == -1L) {
                throw new OutOfMemoryError("mmap of " + bytes + " bytes refused");
            }
            return m;
        }

        void adviseHugePages(MemorySegment slab) throws Throwable {
            int rc = (int) madvise.invokeExact(slab, slab.byteSize(), 14); // MADV_HUGEPAGE
            if (rc != 0) {
                throw new IllegalStateException("madvise(MADV_HUGEPAGE) refused: no transparent huge pages here");
            }
        }

        void unmap(MemorySegment mapping, long bytes) throws Throwable {
            int rc = (int) munmap.invokeExact(mapping, bytes);
        }
    }
}
