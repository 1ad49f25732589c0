import java.nio.ByteBuffer;

/**
 * What fresh memory costs on this machine: allocates 1 GiB as 16 direct buffers of 64 MiB (as the page store
 * allocates its slabs), touches every 4 KiB, and prints the time; ROUNDS times, giving the buffers back in between.
 *
 * <pre>java -XX:MaxDirectMemorySize=4g bench/TouchMemory.java [ROUNDS]</pre>
 */
public class TouchMemory {
    private static final int SLAB_BYTES = 64 << 20;
    private static final int SLABS = 16;

    public static void main(String[] args) throws InterruptedException {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        for (int r = 0; r < rounds; r++) {
            long start = System.nanoTime();
            ByteBuffer[] slabs = new ByteBuffer[SLABS];
            for (int s = 0; s < SLABS; s++) {
                slabs[s] = ByteBuffer.allocateDirect(SLAB_BYTES);
                for (int i = 0; i < SLAB_BYTES; i += 4096) {
                    slabs[s].put(i, (byte) 1);
                }
            }
            System.out.printf("1 GiB of fresh direct memory touched in %.3f s%n", (System.nanoTime() - start) / 1e9);
            slabs = null;
            System.gc();
            Thread.sleep(300);
        }
    }
}
