package io.machvm.vm;

import io.machvm.store.PageStore;
import io.machvm.store.StoreCapacity;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * Runs seeded random sequences of Mach calls on three tasks (both flavors, both error models, over two page stores
 * sharing one capacity) against {@link VmMap} and against {@link ReferenceVm}, comparing every answer and, every few
 * operations, the whole state. Addresses are concentrated in a small window so that operations collide.
 */
final class DiffDriver {
    static final int TASKS = 3;
    /** Pages of each task's window, from the map minimum. */
    static final int WINDOW_PAGES = 24;

    final long seed;
    final boolean tight;
    final Random rnd;
    final StoreCapacity capacity;
    final PageStore armStore;
    final PageStore x86Store;
    final Flavor[] flavors = new Flavor[TASKS];
    final ErrorModel[] models = new ErrorModel[TASKS];
    final VmMap[] maps = new VmMap[TASKS];
    final ReferenceVm[] refs = new ReferenceVm[TASKS];
    final PageSnapshot[] snapshots = new PageSnapshot[TASKS];
    final byte[][] snapshotBytes = new byte[TASKS][];
    /** Counts of outcomes per call, e.g. "vm_copy KERN_SUCCESS" (to show the run exercised both paths). */
    final Map<String, Integer> stats = new TreeMap<>();
    private final ArrayDeque<String> recent = new ArrayDeque<>();
    int opIndex;
    int checkEvery = 250;
    /** Check the page-store accounting at every state comparison. */
    boolean checkAccounting;

    /**
     * @param tight a capacity small enough that writes and copies run out of pages now and then
     */
    DiffDriver(long seed, boolean tight) {
        this.seed = seed;
        this.tight = tight;
        this.rnd = new Random(seed);
        this.capacity = new StoreCapacity(tight ? 20L * 16384 : 256L << 20);
        long slab = tight ? 64L << 10 : 1L << 20;
        this.armStore = new PageStore(Flavor.ARM64.pageSize(), slab, capacity);
        this.x86Store = new PageStore(Flavor.X86_64.pageSize(), slab, capacity);
        // Both flavors and both error models always; the third task is random.
        flavors[0] = Flavor.ARM64;
        flavors[1] = Flavor.X86_64;
        flavors[2] = rnd.nextBoolean() ? Flavor.ARM64 : Flavor.X86_64;
        models[0] = rnd.nextBoolean() ? ErrorModel.XNU : ErrorModel.DOCUMENTED;
        models[1] = models[0] == ErrorModel.XNU ? ErrorModel.DOCUMENTED : ErrorModel.XNU;
        models[2] = rnd.nextBoolean() ? ErrorModel.XNU : ErrorModel.DOCUMENTED;
        for (int t = 0; t < TASKS; t++) {
            newTask(t);
        }
    }

    private void newTask(int t) {
        maps[t] = new VmMap(flavors[t] == Flavor.ARM64 ? armStore : x86Store, flavors[t], models[t]);
        refs[t] = new ReferenceVm(flavors[t], models[t]);
    }

    PageStore storeOf(int t) {
        return maps[t].store();
    }

    // ====================================================================== running

    void run(int ops) {
        for (opIndex = 0; opIndex < ops; opIndex++) {
            step();
            if ((opIndex + 1) % checkEvery == 0) {
                compareState();
            }
        }
        closeSnapshots();
        compareState();
    }

    /** Terminates every task; afterwards the stores must be empty. */
    void terminateAll() {
        closeSnapshots();
        for (int t = 0; t < TASKS; t++) {
            maps[t].terminate();
            refs[t].terminate();
        }
    }

    void step() {
        int t = rnd.nextInt(TASKS);
        if (refs[t].terminated && rnd.nextInt(8) == 0) {
            note("revive task " + t);
            newTask(t);
        }
        int r = rnd.nextInt(1000);
        if (r < 160) {
            allocate(t);
        } else if (r < 220) {
            deallocate(t);
        } else if (r < 320) {
            protect(t);
        } else if (r < 360) {
            inherit(t);
        } else if (r < 500) {
            write(t);
        } else if (r < 580) {
            streamWrite(t);
        } else if (r < 710) {
            copy(t);
        } else if (r < 790) {
            read(t);
        } else if (r < 840) {
            snapshot(t);
        } else if (r < 930) {
            readOverwrite(t, rnd.nextInt(TASKS));
        } else if (r < 997) {
            region(t);
        } else {
            note("terminate task " + t);
            maps[t].terminate();
            refs[t].terminate();
        }
    }

    // ====================================================================== arguments

    private long pageOffset(long p) {
        return switch (rnd.nextInt(7)) {
            case 0, 1, 2 -> 0;
            case 3 -> rnd.nextInt((int) p);
            case 4 -> p - 1 - rnd.nextInt(3);
            case 5 -> 1 + rnd.nextInt(16);
            default -> p / 2;
        };
    }

    long address(int t) {
        ReferenceVm ref = refs[t];
        long p = ref.pageSize;
        if (rnd.nextInt(100) < 90) {
            return ref.min + (long) rnd.nextInt(WINDOW_PAGES) * p + pageOffset(p);
        }
        long[] edges = {0, 1, ref.min - p, ref.min - 1, ref.max - p, ref.max - p + 1, ref.max - 2 * p, ref.max - 1,
            ref.max, -1L, -p, 1L << 63, rnd.nextLong(), p - 1};
        return edges[rnd.nextInt(edges.length)];
    }

    /** A byte count for a transfer: mostly small, sometimes around S, sometimes absurd. */
    long transferSize(int t, boolean absurdAllowed) {
        ReferenceVm ref = refs[t];
        long p = ref.pageSize;
        int c = rnd.nextInt(100);
        if (c < 6) {
            return 0;
        }
        if (c < 45) {
            return (1 + rnd.nextInt(4)) * p + (rnd.nextInt(4) == 0 ? rnd.nextInt(3) - 1 : 0);
        }
        if (c < 85) {
            return 1 + rnd.nextInt((int) (3 * p));
        }
        if (c < 93 || !absurdAllowed) {
            return ref.smallLimit + rnd.nextInt(3) - 1;
        }
        long[] edges = {-1L, -p, 1L << 32, 0xFFFF_FFFFL, 1L << 63, (1L << 32) + 1, ref.max};
        return edges[rnd.nextInt(edges.length)];
    }

    private long allocationSize(int t) {
        ReferenceVm ref = refs[t];
        long p = ref.pageSize;
        int c = rnd.nextInt(100);
        if (c < 5) {
            return 0;
        }
        if (c < 90) {
            return (1 + rnd.nextInt(4)) * p - (rnd.nextInt(3) == 0 ? rnd.nextInt((int) p) : 0);
        }
        // Sizes that can never succeed anywhere in the map (the reference would not cope with huge mappings).
        long[] edges = {-1L, -p, -p + 1, 1L << 63, ref.max - ref.min + p, -(1L << 40)};
        return edges[rnd.nextInt(edges.length)];
    }

    private byte[] data(int length) {
        byte[] out = new byte[length];
        rnd.nextBytes(out);
        return out;
    }

    // ====================================================================== operations

    private void allocate(int t) {
        long address = address(t);
        long size = allocationSize(t);
        int c = rnd.nextInt(100);
        int flags = c < 55 ? VmFlags.FIXED
                : c < 80 ? VmFlags.ANYWHERE
                : c < 95 ? VmFlags.FIXED | VmFlags.OVERWRITE
                : c < 98 ? rnd.nextInt() : VmFlags.USER_ALLOCATE_MASK & rnd.nextInt() & ~VmFlags.ANYWHERE;
        String desc = String.format("task%d vm_allocate(0x%x, 0x%x, flags 0x%x)", t, address, size, flags);
        compare(desc, "vm_allocate",
                () -> maps[t].allocate(address, size, flags),
                () -> refs[t].allocate(address, size, flags));
    }

    private void deallocate(int t) {
        long address = address(t);
        long size = rnd.nextInt(10) == 0 ? transferSize(t, true)
                : rnd.nextInt(3) == 0 ? allocationSize(t) : 1 + rnd.nextInt(refs[t].flavor.pageSize());
        String desc = String.format("task%d vm_deallocate(0x%x, 0x%x)", t, address, size);
        compare(desc, "vm_deallocate", () -> {
            maps[t].deallocate(address, size);
            return null;
        }, () -> {
            refs[t].deallocate(address, size);
            return null;
        });
    }

    private int protection() {
        int c = rnd.nextInt(100);
        int prot = rnd.nextInt(3) == 0 ? VmProt.READ | VmProt.WRITE : rnd.nextInt(8);
        if (c < 10) {
            prot |= VmProt.COPY;
        } else if (c < 13) {
            prot |= new int[] {0x8, 0x20, 0x100, 0x8000_0000}[rnd.nextInt(4)];
        }
        return prot;
    }

    private void protect(int t) {
        long address = address(t);
        long size = rnd.nextInt(8) == 0 ? transferSize(t, true) : allocationSize(t);
        boolean setMaximum = rnd.nextInt(4) == 0;
        int prot = protection();
        String desc = String.format("task%d vm_protect(0x%x, 0x%x, %s, 0x%x)", t, address, size, setMaximum, prot);
        compare(desc, "vm_protect", () -> {
            maps[t].protect(address, size, setMaximum, prot);
            return null;
        }, () -> {
            refs[t].protect(address, size, setMaximum, prot);
            return null;
        });
    }

    private void inherit(int t) {
        long address = address(t);
        long size = rnd.nextInt(8) == 0 ? transferSize(t, true) : allocationSize(t);
        VmInherit inheritance = rnd.nextInt(30) == 0 ? null : VmInherit.values()[rnd.nextInt(3)];
        String desc = String.format("task%d vm_inherit(0x%x, 0x%x, %s)", t, address, size, inheritance);
        compare(desc, "vm_inherit", () -> {
            maps[t].inherit(address, size, inheritance);
            return null;
        }, () -> {
            refs[t].inherit(address, size, inheritance);
            return null;
        });
    }

    private void write(int t) {
        long address = address(t);
        byte[] body = data((int) transferSize(t, false));
        String desc = String.format("task%d vm_write(0x%x, %d bytes)", t, address, body.length);
        compare(desc, "vm_write", () -> {
            maps[t].write(address, body);
            return null;
        }, () -> {
            refs[t].write(address, body);
            return null;
        });
    }

    /** An input stream over {@code data} in short reads that throws after {@code failAfter} bytes (-1: never). */
    private static InputStream stream(byte[] data, int chunk, int failAfter) {
        return new InputStream() {
            int at;

            @Override
            public int read() {
                throw new UnsupportedOperationException();
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (failAfter >= 0 && at >= failAfter) {
                    throw new IOException("broken body");
                }
                if (at == data.length) {
                    return -1;
                }
                int n = Math.min(Math.min(len, chunk), data.length - at);
                if (failAfter >= 0) {
                    n = Math.min(n, failAfter - at);
                }
                System.arraycopy(data, at, b, off, n);
                at += n;
                return n;
            }
        };
    }

    private void streamWrite(int t) {
        long address = address(t);
        byte[] body = data((int) transferSize(t, false));
        boolean declared = tight || rnd.nextInt(10) < 7;
        int mode = tight || body.length == 0 ? 0 : rnd.nextInt(10); // 0-6 normal, 7 breaks, 8 ends early, 9 limit
        int chunk = 1 + rnd.nextInt(3 * refs[t].flavor.pageSize());
        int failAfter = mode == 7 ? rnd.nextInt(body.length) : -1;
        long declaredLength = !declared ? -1 : mode == 8 ? body.length + 1 + rnd.nextInt(5) : body.length;
        long limit = mode == 9 ? body.length - 1 : 1L << 30;
        String desc = String.format("task%d vm_write(0x%x, stream of %d bytes, declared %d, limit %d, fails at %d)",
                t, address, body.length, declaredLength, limit, failAfter);
        Outcome real = outcome(() -> maps[t].write(address, stream(body, chunk, failAfter), declaredLength, limit));
        // What the reference says about the Mach checks (of the declared length, when there is one), then what the
        // service adds on top of them.
        ReferenceVm ref = refs[t];
        ref.apply = false;
        Outcome mach = outcome(() -> {
            ref.write(address, new byte[declared ? (int) declaredLength : body.length]);
            return (long) body.length;
        });
        ref.apply = true;
        Outcome expected;
        boolean machFirst = declared || ref.terminated; // with an unknown length, the body arrives first
        if (mode == 7) {
            expected = machFirst && !mach.ok() ? mach : Outcome.of("IOException");
        } else if (mode == 8 && declared) {
            expected = mach.ok() ? Outcome.of("EOFException") : mach;
        } else if (mode == 9) {
            expected = mach.ok() ? Outcome.of("TransferLimitException") : mach;
        } else if (tight && mach.ok() && real.kind.equals("KERN_RESOURCE_SHORTAGE")) {
            expected = real;
        } else {
            expected = mach;
        }
        if (expected.ok()) {
            ref.write(address, body);
        }
        record(desc, "vm_write(stream)", real, expected);
    }

    private void copy(int t) {
        long source = address(t);
        long dest = rnd.nextInt(4) == 0 ? source + rnd.nextInt(2 * refs[t].flavor.pageSize()) - refs[t].flavor
                .pageSize() : address(t);
        long size = transferSize(t, true);
        String desc = String.format("task%d vm_copy(0x%x, 0x%x, 0x%x)", t, source, size, dest);
        compare(desc, "vm_copy", () -> {
            maps[t].copy(source, size, dest);
            return null;
        }, () -> {
            refs[t].copy(source, size, dest);
            return null;
        });
    }

    private void read(int t) {
        long address = address(t);
        long size = transferSize(t, true);
        String desc = String.format("task%d vm_read(0x%x, 0x%x)", t, address, size);
        compare(desc, "vm_read", () -> maps[t].read(address, size), () -> refs[t].read(address, size));
    }

    private void snapshot(int t) {
        if (snapshots[t] != null && rnd.nextBoolean()) {
            closeSnapshot(t);
            return;
        }
        if (snapshots[t] != null) {
            closeSnapshot(t);
        }
        long address = address(t);
        long size = transferSize(t, true);
        String desc = String.format("task%d vm_read(0x%x, 0x%x) as snapshot", t, address, size);
        PageSnapshot[] taken = new PageSnapshot[1];
        Outcome real = outcome(() -> {
            taken[0] = maps[t].snapshot(address, size);
            return taken[0].toByteArray();
        });
        Outcome expected = outcome(() -> refs[t].read(address, size));
        record(desc, "vm_read(snapshot)", real, expected);
        if (taken[0] != null) {
            snapshots[t] = taken[0];
            snapshotBytes[t] = (byte[]) expected.value;
        }
    }

    private void closeSnapshot(int t) {
        note("close snapshot of task " + t);
        byte[] now = snapshots[t].toByteArray();
        snapshots[t].close();
        snapshots[t] = null;
        if (!Arrays.equals(now, snapshotBytes[t])) {
            throw failure("a snapshot of task " + t + " changed after later calls", null);
        }
    }

    void closeSnapshots() {
        for (int t = 0; t < TASKS; t++) {
            if (snapshots[t] != null) {
                closeSnapshot(t);
            }
        }
    }

    private void readOverwrite(int s, int d) {
        long address = address(s);
        long size = transferSize(s, true);
        long destAddress = address(d);
        String desc = String.format("vm_read_overwrite(task%d 0x%x, 0x%x -> task%d 0x%x)", s, address, size, d,
                destAddress);
        compare(desc, "vm_read_overwrite", () -> VmMap.readOverwrite(maps[s], address, size, maps[d], destAddress),
                () -> ReferenceVm.readOverwrite(refs[s], address, size, refs[d], destAddress));
    }

    private void region(int t) {
        long address = rnd.nextInt(4) == 0 ? address(t) : refs[t].min + rnd.nextLong(
                (WINDOW_PAGES + 8L) * refs[t].pageSize);
        String desc = String.format("task%d vm_region(0x%x)", t, address);
        Outcome real = outcome(() -> maps[t].region(address));
        Outcome expected = outcome(() -> refs[t].region(address));
        count("vm_region", real);
        note(desc + " -> " + real);
        if (!real.kind.equals(expected.kind)) {
            throw failure(desc + ": real " + real + ", reference " + expected, null);
        }
        if (!real.ok()) {
            return;
        }
        RegionInfo r = (RegionInfo) real.value;
        long page = (Long) expected.value;
        ReferenceVm.Page p = refs[t].pages.get(page);
        boolean containing = page == refs[t].trunc(address);
        boolean placed = containing ? r.address() <= page && page < r.address() + r.size() : r.address() == page;
        if (!placed || r.protection() != p.prot || r.maxProtection() != p.max || r.inheritance() != p.inheritance) {
            throw failure(desc + ": real " + r + ", reference page 0x" + Long.toHexString(page) + " " + VmProt.format(
                    p.prot) + "/" + VmProt.format(p.max) + " " + p.inheritance, null);
        }
    }

    // ====================================================================== comparing

    /** What a call did: "ok" with its value, a kern name, or an exception's simple class name. */
    record Outcome(String kind, Object value) {
        static Outcome of(String kind) {
            return new Outcome(kind, null);
        }

        boolean ok() {
            return kind.equals("ok");
        }

        @Override
        public String toString() {
            if (value instanceof byte[] b) {
                return kind + "(" + b.length + " bytes)";
            }
            return value == null ? kind : kind + "(" + (value instanceof Long l ? "0x" + Long.toHexString(l) : value)
                    + ")";
        }
    }

    static Outcome outcome(Callable<?> call) {
        try {
            return new Outcome("ok", call.call());
        } catch (TransferLimitException e) {
            return Outcome.of("TransferLimitException");
        } catch (KernException e) {
            return Outcome.of(e.kern().name());
        } catch (EOFException e) {
            return Outcome.of("EOFException");
        } catch (IOException e) {
            return Outcome.of("IOException");
        } catch (Exception e) {
            return new Outcome("crash " + e, e);
        }
    }

    private void compare(String desc, String call, Callable<?> real, Callable<?> reference) {
        Outcome r = outcome(real);
        Outcome e;
        if (r.kind.equals("KERN_RESOURCE_SHORTAGE")) {
            // Only after the Mach checks pass: the reference must accept the call, which then changes nothing.
            for (ReferenceVm ref : refs) {
                ref.apply = false;
            }
            try {
                e = outcome(reference);
            } finally {
                for (ReferenceVm ref : refs) {
                    ref.apply = true;
                }
            }
            if (e.ok()) {
                e = r;
            }
        } else {
            e = outcome(reference);
        }
        record(desc, call, r, e);
    }

    private void record(String desc, String call, Outcome real, Outcome expected) {
        count(call, real);
        note(desc + " -> " + real);
        if (real.kind.startsWith("crash") || !real.kind.equals(expected.kind)
                || !Objects.deepEquals(real.value, expected.value)) {
            Throwable cause = real.value instanceof Throwable th ? th : null;
            throw failure(desc + ": real " + real + ", reference " + expected + describeValues(real, expected), cause);
        }
        if (real.kind.equals("KERN_RESOURCE_SHORTAGE") && !tight) {
            throw failure(desc + ": unexpected resource shortage", null);
        }
    }

    private static String describeValues(Outcome real, Outcome expected) {
        if (real.value instanceof byte[] a && expected.value instanceof byte[] b) {
            int i = Arrays.mismatch(a, b);
            return i < 0 ? "" : " (first difference at byte " + i + ")";
        }
        return "";
    }

    private void count(String call, Outcome outcome) {
        stats.merge(call + " " + (outcome.ok() ? "KERN_SUCCESS" : outcome.kind), 1, Integer::sum);
    }

    private void note(String line) {
        recent.addLast("#" + opIndex + " " + line);
        if (recent.size() > 25) {
            recent.removeFirst();
        }
    }

    AssertionError failure(String what, Throwable cause) {
        StringBuilder sb = new StringBuilder();
        sb.append("seed=").append(seed).append(" op=").append(opIndex).append(tight ? " (tight capacity)" : "")
                .append(": ").append(what).append('\n');
        sb.append("tasks:");
        for (int t = 0; t < TASKS; t++) {
            sb.append(' ').append(t).append('=').append(flavors[t].wireName()).append('/').append(models[t].wireName());
        }
        sb.append("\nreplay: -Dmachvm.diff.seed=").append(seed).append(" -Dmachvm.diff.ops=").append(opIndex + 1)
                .append("\nrecent operations:\n");
        for (String line : recent) {
            sb.append("  ").append(line).append('\n');
        }
        return new AssertionError(sb.toString(), cause);
    }

    /** Compares every task's mapped pages, their attributes and their bytes with the reference. */
    void compareState() {
        for (int t = 0; t < TASKS; t++) {
            VmMap map = maps[t];
            ReferenceVm ref = refs[t];
            if (MapInspection.isTerminated(map) != ref.terminated) {
                throw failure("task " + t + " terminated: real " + MapInspection.isTerminated(map) + ", reference "
                        + ref.terminated, null);
            }
            if (ref.terminated) {
                continue;
            }
            long p = ref.pageSize;
            List<RegionInfo> regions = map.regions();
            long mapped = 0;
            long previousEnd = 0;
            for (RegionInfo r : regions) {
                if (r.address() % p != 0 || r.size() <= 0 || r.size() % p != 0 || r.address() < previousEnd) {
                    throw failure("task " + t + ": malformed region " + r, null);
                }
                previousEnd = r.address() + r.size();
                for (long a = r.address(); a < r.address() + r.size(); a += p) {
                    ReferenceVm.Page page = ref.pages.get(a);
                    if (page == null || page.prot != r.protection() || page.max != r.maxProtection()
                            || page.inheritance != r.inheritance()) {
                        throw failure("task " + t + ": page 0x" + Long.toHexString(a) + " is " + r + " but "
                                + (page == null ? "unmapped" : VmProt.format(page.prot) + "/" + VmProt.format(page.max)
                                        + " " + page.inheritance) + " in the reference", null);
                    }
                    mapped++;
                }
            }
            if (mapped != ref.pages.size()) {
                throw failure("task " + t + ": " + mapped + " pages mapped, reference " + ref.pages.size(), null);
            }
            if (map.virtualBytes() != mapped * p) {
                throw failure("task " + t + ": virtualBytes " + map.virtualBytes() + " for " + mapped + " pages", null);
            }
            byte[] zeros = new byte[(int) p];
            for (Map.Entry<Long, ReferenceVm.Page> e : ref.pages.entrySet()) {
                byte[] expected = e.getValue().data == null ? zeros : e.getValue().data;
                byte[] actual = VmInspector.rawPage(map, e.getKey());
                if (!Arrays.equals(actual, expected)) {
                    throw failure("task " + t + ": bytes of page 0x" + Long.toHexString(e.getKey())
                            + " differ at offset " + Arrays.mismatch(actual, expected), null);
                }
            }
        }
        if (checkAccounting) {
            closeSnapshots(); // they hold references of their own
            checkAccounting();
        }
    }

    /**
     * The multiset of page handles over all maps (and open snapshots, which must be closed first) equals the store's
     * reference counts, and its resident and shared page counts follow.
     */
    void checkAccounting() {
        checkSettled();
        for (PageStore store : new PageStore[] {armStore, x86Store}) {
            Map<Integer, Integer> counts = new HashMap<>();
            for (VmMap map : maps) {
                if (map.store() == store) {
                    for (int h : MapInspection.residentHandles(map)) {
                        counts.merge(h, 1, Integer::sum);
                    }
                }
            }
            for (Map.Entry<Integer, Integer> e : counts.entrySet()) {
                if (store.referenceCount(e.getKey()) != e.getValue()) {
                    throw failure("handle " + e.getKey() + " is in " + e.getValue() + " page(s) but has "
                            + store.referenceCount(e.getKey()) + " reference(s)", null);
                }
            }
            long shared = counts.values().stream().filter(n -> n > 1).count();
            if (store.residentPages() != counts.size() || store.sharedPages() != shared) {
                throw failure("store of " + store.pageSize() + "-byte pages: resident " + store.residentPages()
                        + " shared " + store.sharedPages() + ", but the maps hold " + counts.size() + " distinct ("
                        + shared + " shared)", null);
            }
        }
    }

    /** Between calls every charge holds what its holder holds: no call, however it ended, left one unsettled. */
    private void checkSettled() {
        for (int t = 0; t < TASKS; t++) {
            VmMap map = maps[t];
            checkHeld(t, "entries", map.entryCharge, map.entries.size());
            checkHeld(t, "page-table nodes", map.nodeCharge, map.pages.nodes() + map.dirty.words().nodes());
            checkHeld(t, "bytes", map.byteCharge, map.pages.population() * map.pageSize);
            if (map.sharedRanges != null) {
                for (SharedRange r : map.sharedRanges.values()) {
                    SharedMemory m = r.memory;
                    checkHeld(t, "shared page-table nodes", m.nodeCharge, m.pages.nodes() + m.dirty.words().nodes());
                    checkHeld(t, "shared bytes", m.byteCharge, m.pages.population() * m.pageSize);
                }
            }
        }
    }

    private void checkHeld(int task, String what, Charge charge, long actual) {
        if (charge.held() != actual) {
            throw failure("task " + task + " holds " + actual + " " + what + " but is charged " + charge.held(), null);
        }
    }
}
