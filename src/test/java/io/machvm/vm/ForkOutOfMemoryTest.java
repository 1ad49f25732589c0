package io.machvm.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.machvm.store.PageStore;
import io.machvm.store.StoreCapacity;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * F4: an {@link OutOfMemoryError} in the middle of a fork gives back every page reference the half-built child took.
 * Run in a JVM of its own with a small heap: forks of a task with many entries and resident pages until one runs out
 * of heap; then every task is terminated and the store must hold no page.
 */
class ForkOutOfMemoryTest {

    @Test
    void aForkThatRunsOutOfHeapLeaksNoStorePage() throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process process = new ProcessBuilder(java.toString(), "-Xmx48m", "-XX:MaxDirectMemorySize=64m",
                "-XX:-UseCompressedClassPointers", "-cp", System.getProperty("java.class.path"),
                ForkOutOfMemoryTest.class.getName()).redirectErrorStream(true).start();
        String output;
        try (var in = process.getInputStream()) {
            output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertThat(process.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(output).contains("out of memory in fork").contains("resident pages after terminate: 0");
        assertThat(process.exitValue()).isZero();
    }

    /** The forked JVM: prints where it ran out of heap and the resident pages left after terminating everything. */
    public static void main(String[] args) {
        PageStore store = new PageStore(16384, 1 << 20, new StoreCapacity(32L << 20));
        VmMap parent = new VmMap(store, Flavor.ARM64, ErrorModel.DOCUMENTED);
        for (int i = 0; i < 20_000; i++) {
            long at = parent.allocate(0, 16384, VmFlags.ANYWHERE);
            if (i % 10 == 0) {
                parent.write(at, new byte[] {(byte) i});
            }
        }
        List<VmMap> children = new ArrayList<>();
        boolean inFork = false;
        try {
            for (int i = 0; i < 10_000; i++) {
                inFork = true;
                VmMap child = parent.fork();
                inFork = false;
                children.add(child);
            }
        } catch (OutOfMemoryError e) {
            // below
        }
        int forks = children.size();
        for (VmMap child : children) {
            child.terminate();
        }
        children = null;
        parent.terminate();
        System.out.println((inFork ? "out of memory in fork " : "out of memory elsewhere ") + forks);
        System.out.println("resident pages after terminate: " + store.residentPages());
    }
}
