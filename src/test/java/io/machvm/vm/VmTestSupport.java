package io.machvm.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.machvm.store.PageStore;
import io.machvm.store.StoreCapacity;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.Arguments;

/** Shared helpers for the VM core tests: maps on private stores, kern-code capture, byte patterns. */
final class VmTestSupport {
    /** Slab size used by the tests: small, so that many maps do not pin much direct memory. */
    static final long TEST_SLAB_BYTES = 1L << 20;
    static final long DEFAULT_CAPACITY = 64L << 20;

    private VmTestSupport() {
    }

    @FunctionalInterface
    interface Call {
        void run() throws Exception;
    }

    static VmMap newMap(Flavor flavor, ErrorModel errors) {
        return newMap(flavor, errors, DEFAULT_CAPACITY);
    }

    static VmMap newMap(Flavor flavor, ErrorModel errors, long capacityBytes) {
        return new VmMap(newStore(flavor, capacityBytes), flavor, errors);
    }

    static PageStore newStore(Flavor flavor, long capacityBytes) {
        return new PageStore(flavor.pageSize(), Math.min(TEST_SLAB_BYTES, Long.highestOneBit(capacityBytes)),
                new StoreCapacity(capacityBytes));
    }

    /** Runs a call and answers its kern code: KERN_SUCCESS when it returns, the code when it throws KernException. */
    static KernReturn kernOf(Call call) {
        try {
            call.run();
            return KernReturn.KERN_SUCCESS;
        } catch (KernException e) {
            return e.kern();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new AssertionError("unexpected checked exception", e);
        }
    }

    static void assertKern(KernReturn expected, Call call) {
        KernReturn actual;
        String detail = "";
        try {
            call.run();
            actual = KernReturn.KERN_SUCCESS;
        } catch (KernException e) {
            actual = e.kern();
            detail = e.detail();
        } catch (Exception e) {
            throw new AssertionError("unexpected exception instead of " + expected, e);
        }
        assertThat(actual).as("kern (detail: %s)", detail).isEqualTo(expected);
    }

    static void assertSuccess(Call call) {
        assertKern(KernReturn.KERN_SUCCESS, call);
    }

    /**
     * Checks a fork's pair of maps over {@code [address, address + 4 pages)}, the first two pages inherited copy and
     * the next two share: a write to a copied page stays in the map that made it, and a write to a shared page shows in
     * both, both ways, untouched pages included.
     */
    static void assertCopiedAndSharedPages(VmMap parent, VmMap child, long address, int pageSize) {
        byte[] before = parent.read(address, 2);
        assertThat(child.read(address, 2)).isEqualTo(before);
        child.write(address, new byte[] {9});
        parent.write(address + 1, new byte[] {8});
        assertThat(parent.read(address, 2)).containsExactly(before[0], 8);
        assertThat(child.read(address, 2)).containsExactly(9, before[1]);
        child.write(address + 2L * pageSize + 5, new byte[] {42});
        assertThat(parent.read(address + 2L * pageSize + 5, 1)).containsExactly(42);
        parent.write(address + 3L * pageSize, new byte[] {43});
        assertThat(child.read(address + 3L * pageSize, 1)).containsExactly(43);
    }

    /** Deterministic non-zero-ish bytes, different for different seeds. */
    static byte[] pattern(int length, int seed) {
        return io.machvm.TestBytes.pattern(length, seed);
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** Every (flavor, error model) pair. */
    static Stream<Arguments> configs() {
        List<Arguments> out = new ArrayList<>();
        for (Flavor f : Flavor.values()) {
            for (ErrorModel m : ErrorModel.values()) {
                out.add(Arguments.of(f, m));
            }
        }
        return out.stream();
    }

    static Stream<Arguments> flavors() {
        return Stream.of(Flavor.values()).map(Arguments::of);
    }

    /** The protection-problem code for a transfer of {@code size} bytes in {@code map}'s error model. */
    static KernReturn protectionCode(VmMap map, long size) {
        return map.errors() == ErrorModel.XNU && Long.compareUnsigned(size, map.flavor().smallTransferLimit()) <= 0
                ? KernReturn.KERN_INVALID_ADDRESS
                : KernReturn.KERN_PROTECTION_FAILURE;
    }

    /** Reads bytes regardless of protection: raises cur to the max where needed, then restores it. */
    static byte[] peek(VmMap map, long address, int size) {
        List<RegionInfo> before = map.regions();
        try {
            return map.read(address, size);
        } catch (KernException e) {
            for (RegionInfo r : before) {
                if ((r.protection() & VmProt.READ) == 0) {
                    map.protect(r.address(), r.size(), false, r.maxProtection() & (VmProt.READ | VmProt.WRITE));
                }
            }
            try {
                return map.read(address, size);
            } finally {
                for (RegionInfo r : before) {
                    if ((r.protection() & VmProt.READ) == 0) {
                        map.protect(r.address(), r.size(), false, r.protection());
                    }
                }
            }
        }
    }

    static void assertRegions(VmMap map, List<RegionInfo> expected) {
        assertThat(map.regions()).isEqualTo(expected);
    }

    static long hex(String text) {
        if (!text.startsWith("0x")) {
            fail("not a hex string: " + text);
        }
        return Long.parseUnsignedLong(text.substring(2), 16);
    }
}
