package io.machvm.vm;

import io.machvm.store.PageStore;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongPredicate;

/**
 * Durable checkpoints of maps: what a checkpoint takes of a task ({@link #take}, behind {@link VmMap#checkpoint}),
 * and maps built back from what checkpoints took ({@link #restore}). Apart from the calls like the fork
 * ({@link MapFork}) and snapshot images ({@link MapImages}).
 */
public final class Checkpoints {
    private Checkpoints() {
    }

    /** Writes what {@link VmMap#checkpoint} took. */
    @FunctionalInterface
    public interface Writer<X extends Exception> {
        void write(CheckpointImage taken) throws X;
    }

    /** What {@link #snapshot} took, and how the pages handed over are kept from change while they are written. */
    private record Taken(CheckpointImage image, int[] retained, int retainedCount, boolean readHeld) {
    }

    /**
     * Takes the task's state for an incremental checkpoint and hands it to {@code writer}: the pages changed since the
     * last call (all of them with {@code full}, or on the first call), and every page of each shared memory for which
     * {@code knownMemory} is false. The change set is separate from the dirty bits clients see and clear. Taken as a
     * call that changes the map (under the write lock, {@link VmMap#update}), which is then let go: the pages handed
     * over are referenced (copy-on-write) so that writers go on while they are written out; when the store lacks the
     * room for the copies this could cause, the read lock is taken before the write lock goes and held through the
     * write instead, and writers wait rather than fail.
     *
     * @throws KernException {@code MACH_SEND_INVALID_DEST} when the task has been terminated
     */
    static <X extends Exception> void take(VmMap map, boolean full, LongPredicate knownMemory, Writer<X> writer)
            throws X {
        Taken taken = map.update(() -> snapshot(map, full, knownMemory));
        try {
            writer.write(taken.image());
        } finally {
            if (taken.readHeld()) {
                map.lock.readLock().unlock();
            }
            if (taken.retainedCount() > 0) {
                map.store.releaseAll(taken.retained(), taken.retainedCount());
            }
        }
    }

    /** Under the write lock: the state, and either references to its pages or the read lock (taken last). */
    private static Taken snapshot(VmMap map, boolean full, LongPredicate knownMemory) {
        List<CheckpointImage.Entry> entries = new ArrayList<>(map.entries.size());
        for (VmEntry e : map.entries.values()) {
            entries.add(new CheckpointImage.Entry(e.start, e.end, e.protection, e.maxProtection, e.inheritance,
                    e.offset, e.shared));
        }
        List<CheckpointImage.Range> ranges = new ArrayList<>();
        Map<Long, CheckpointImage.Pages> memories = new LinkedHashMap<>();
        CheckpointImage.Pages own = takePages(map.store, map.pages, full);
        long handles = own.count();
        if (map.sharedRanges != null) {
            for (SharedRange r : map.sharedRanges.values()) {
                ranges.add(new CheckpointImage.Range(r.startPage, r.endPage, r.memory.id, r.memoryStartPage));
                if (!memories.containsKey(r.memory.id)) {
                    CheckpointImage.Pages m = takePages(map.store, r.memory.pages,
                            full || !knownMemory.test(r.memory.id));
                    if (m.full() || m.count() > 0) {
                        memories.put(r.memory.id, m);
                        handles += m.count();
                    }
                }
            }
        }
        CheckpointImage image = new CheckpointImage(map.flavor, map.errors, entries, ranges, own, memories);
        if (map.store.freePages() < 2 * handles) {
            map.lock.readLock().lock(); // the last step: nothing after it may throw
            return new Taken(image, null, 0, true);
        }
        int[] retained = new int[(int) handles];
        int count = 0;
        try {
            for (CheckpointImage.Pages p : allPages(image)) {
                for (int i = 0; i < p.count(); i++) {
                    if (p.handles()[i] != PageStore.NO_PAGE) {
                        map.store.retain(p.handles()[i]);
                        retained[count++] = p.handles()[i];
                    }
                }
            }
        } catch (RuntimeException | Error e) {
            map.store.releaseAll(retained, count);
            throw e;
        }
        return new Taken(image, retained, count, false);
    }

    private static List<CheckpointImage.Pages> allPages(CheckpointImage image) {
        List<CheckpointImage.Pages> out = new ArrayList<>(1 + image.memories().size());
        out.add(image.pages());
        out.addAll(image.memories().values());
        return out;
    }

    private static CheckpointImage.Pages takePages(PageStore store, PageTable table, boolean full) {
        PageBits changed = table.takeChanges();
        LongList indexes = new LongList();
        IntList handles = new IntList(16);
        if (full || changed == null) {
            table.forEach(0, PageTable.MAX_PAGES, (p, h) -> {
                indexes.add(p);
                handles.add(h);
            });
            full = true;
        } else {
            changed.forEach(0, PageTable.MAX_PAGES, p -> {
                indexes.add(p);
                handles.add(table.get(p));
            });
        }
        int n = indexes.size();
        long[] ids = new long[n];
        long[] idx = new long[n];
        for (int i = 0; i < n; i++) {
            idx[i] = indexes.get(i);
            int h = handles.get(i);
            ids[i] = h == PageStore.NO_PAGE ? 0 : store.contentId(h);
        }
        return new CheckpointImage.Pages(full, idx, java.util.Arrays.copyOf(handles.array(), n), ids, n);
    }

    /**
     * Builds maps from checkpointed state, all over {@code store}: maps whose ranges name a common shared memory see
     * one memory and share one lock, as after the fork that made them. Takes over one reference to each handle in
     * the maps' own pages and in {@code memories}; the maps come back in the order of {@code states}.
     *
     * <p>Map {@code i} draws from {@code budgets.get(i)}, and a shared memory from the budgets of the first map that
     * names it (as a fork charges the parent). The budgets never refuse a restore: what the maps hold is charged in
     * full even past the limits ({@link Charge#settleAnyway}), so a task that fitted before a restart always comes
     * back, even when its limits have since been lowered, and then cannot grow until it is back under them.
     */
    public static List<VmMap> restore(PageStore store, List<CheckpointImage> states,
            Map<Long, CheckpointImage.Pages> memories, List<MapBudgets> budgets) {
        if (budgets.size() != states.size()) {
            throw new IllegalArgumentException(states.size() + " states but " + budgets.size() + " budgets");
        }
        // Maps that see a common memory share a lock: union by memory id.
        int[] parent = new int[states.size()];
        Map<Long, Integer> firstUser = new HashMap<>();
        for (int i = 0; i < parent.length; i++) {
            parent[i] = i;
        }
        for (int i = 0; i < states.size(); i++) {
            for (CheckpointImage.Range r : states.get(i).ranges()) {
                Integer other = firstUser.putIfAbsent(r.memoryId(), i);
                if (other != null) {
                    parent[root(parent, i)] = root(parent, other);
                }
            }
        }
        Map<Integer, ReentrantReadWriteLock> locks = new HashMap<>();
        Map<Long, SharedMemory> shared = new HashMap<>();
        List<VmMap> out = new ArrayList<>(states.size());
        for (int i = 0; i < states.size(); i++) {
            CheckpointImage state = states.get(i);
            MapBudgets mapBudgets = budgets.get(i);
            VmMap map = new VmMap(store, state.flavor(), state.errors(), mapBudgets,
                    locks.computeIfAbsent(root(parent, i), k -> new ReentrantReadWriteLock()));
            long objectId = 1;
            for (CheckpointImage.Entry e : state.entries()) {
                map.entryList.adoptEntry(new VmEntry(e.start(), e.end(), e.protection(), e.maxProtection(),
                        e.inheritance(), objectId++, e.offset(), e.shared()));
            }
            map.nextObjectId = objectId;
            CheckpointImage.Pages own = state.pages();
            for (int k = 0; k < own.count(); k++) {
                map.pages.set(own.indexes()[k], own.handles()[k]);
            }
            for (CheckpointImage.Range r : state.ranges()) {
                SharedMemory memory = shared.computeIfAbsent(r.memoryId(), id -> {
                    SharedMemory m = new SharedMemory(mapBudgets, store.pageSize());
                    CheckpointImage.Pages p = memories.get(id);
                    if (p != null) {
                        for (int k = 0; k < p.count(); k++) {
                            m.pages.set(p.indexes()[k], p.handles()[k]);
                        }
                    }
                    return m;
                });
                memory.ranges++;
                if (map.sharedRanges == null) {
                    map.sharedRanges = new TreeMap<>();
                }
                map.sharedRanges.put(r.startPage(), new SharedRange(r.startPage(), r.endPage(), memory,
                        r.memoryStartPage()));
            }
            map.entryList.simplify(map.bounds);
            out.add(map);
        }
        // memories that no restored range names hold pages nobody sees
        for (Map.Entry<Long, CheckpointImage.Pages> m : memories.entrySet()) {
            if (!shared.containsKey(m.getKey())) {
                store.releaseAll(m.getValue().handles().clone(), m.getValue().count());
            }
        }
        for (VmMap map : out) {
            chargeRestored(map);
        }
        for (SharedMemory memory : shared.values()) {
            memory.settleAnyway();
        }
        return out;
    }

    /** Charges what a restored map holds, as {@link VmMap#settle} would, but past its budgets' limits. */
    private static void chargeRestored(VmMap map) {
        map.entryCharge.settleAnyway(map.entries.size());
        map.nodeCharge.settleAnyway(map.pages.nodes() + map.dirty.words().nodes());
        map.byteCharge.settleAnyway(map.pages.population() * map.pageSize);
    }

    private static int root(int[] parent, int i) {
        while (parent[i] != i) {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        return i;
    }
}
