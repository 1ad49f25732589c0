package io.machvm.vm;

/**
 * A radix tree from page index to page handle, like a hardware page table: interior nodes of 1024 children and
 * leaves of 1024 {@code int} handles, created on first use and dropped when empty. No object exists per page, so a
 * resident page costs 4 bytes of heap plus its share of a leaf, and an untouched terabyte costs nothing.
 *
 * <p>Not thread-safe: a {@link VmMap} guards its table with its lock.
 */
final class PageTable {
    private static final int BITS = 10;
    private static final int FAN = 1 << BITS;
    private static final int MASK = FAN - 1;
    /** Leaves keep their count of non-zero handles in this extra slot. */
    private static final int LEAF_COUNT = FAN;
    /** Three interior levels above the leaves: page indexes below 2^40. */
    static final long MAX_PAGES = 1L << (4 * BITS);
    /** Heap bytes of one node, interior or leaf, with compressed references: what {@link #nodes()} counts. */
    static final long NODE_BYTES = MapBudgets.PAGE_TABLE_NODE_BYTES;

    private static final class Node {
        final Object[] children = new Object[FAN];
        int count;
    }

    /** Receives one resident page of a walk. */
    @FunctionalInterface
    interface PageVisitor {
        void visit(long pageIndex, int handle);
    }

    private Node root;
    private long population;
    /** Nodes (interior and leaves) that exist. */
    private long nodes;
    /**
     * Pages whose handle or content changed since {@link #takeChanges}, for incremental checkpoints; null until a
     * checkpoint asks (so a service without persistence pays nothing). Separate from the dirty bits clients see.
     */
    private PageBits changes;
    /** The leaf {@link #set} last wrote, so that the next lookups in it skip the walk: a one-entry TLB. */
    private int[] hintLeaf;
    private long hintLeafIndex = -1;

    /** Pages with a non-zero handle. */
    long population() {
        return population;
    }

    /** Nodes, interior and leaves, that exist: the heap this table holds, in units of {@link #NODE_BYTES}. */
    long nodes() {
        return nodes;
    }

    int get(long pageIndex) {
        if (pageIndex >>> BITS == hintLeafIndex) {
            return hintLeaf[(int) pageIndex & MASK];
        }
        Node n = root;
        if (n == null) {
            return 0;
        }
        n = (Node) n.children[(int) (pageIndex >>> (3 * BITS)) & MASK];
        if (n == null) {
            return 0;
        }
        n = (Node) n.children[(int) (pageIndex >>> (2 * BITS)) & MASK];
        if (n == null) {
            return 0;
        }
        int[] leaf = (int[]) n.children[(int) (pageIndex >>> BITS) & MASK];
        return leaf == null ? 0 : leaf[(int) pageIndex & MASK];
    }

    /** Sets the handle of a page (0 clears it) and returns the handle it replaces. */
    int set(long pageIndex, int handle) {
        if (pageIndex < 0 || pageIndex >= MAX_PAGES) {
            throw new IllegalArgumentException("page index out of range: " + pageIndex);
        }
        if (changes != null) {
            changes.add(pageIndex);
        }
        if (handle == 0) {
            return clear(pageIndex);
        }
        int[] leaf = leafForWrite(pageIndex >>> BITS);
        int i0 = (int) pageIndex & MASK;
        int old = leaf[i0];
        leaf[i0] = handle;
        if (old == 0) {
            leaf[LEAF_COUNT]++;
            population++;
        }
        hintLeaf = leaf;
        hintLeafIndex = pageIndex >>> BITS;
        return old;
    }

    /** The leaf of pages {@code leafKey << BITS} onwards, created (with the interior nodes above it) on first use. */
    private int[] leafForWrite(long leafKey) {
        if (root == null) {
            root = new Node();
            nodes++;
        }
        Node mid = interior(root, (int) (leafKey >>> (2 * BITS)) & MASK);
        Node low = interior(mid, (int) (leafKey >>> BITS) & MASK);
        int i1 = (int) leafKey & MASK;
        int[] leaf = (int[]) low.children[i1];
        if (leaf == null) {
            leaf = new int[FAN + 1];
            nodes++;
            low.children[i1] = leaf;
            low.count++;
        }
        return leaf;
    }

    /** The leaf of pages {@code leafKey << BITS} onwards, or null; a walk from the root (the hint is left alone). */
    private int[] leafAt(long leafKey) {
        Node n = root;
        if (n == null) {
            return null;
        }
        n = (Node) n.children[(int) (leafKey >>> (2 * BITS)) & MASK];
        if (n == null) {
            return null;
        }
        n = (Node) n.children[(int) (leafKey >>> BITS) & MASK];
        return n == null ? null : (int[]) n.children[(int) leafKey & MASK];
    }

    /** The interior node at {@code index} of {@code parent}, created on first use. */
    private Node interior(Node parent, int index) {
        Node child = (Node) parent.children[index];
        if (child == null) {
            child = new Node();
            nodes++;
            parent.children[index] = child;
            parent.count++;
        }
        return child;
    }

    private int clear(long pageIndex) {
        Node top = root;
        if (top == null) {
            return 0;
        }
        int i3 = (int) (pageIndex >>> (3 * BITS)) & MASK;
        Node mid = (Node) top.children[i3];
        if (mid == null) {
            return 0;
        }
        int i2 = (int) (pageIndex >>> (2 * BITS)) & MASK;
        Node low = (Node) mid.children[i2];
        if (low == null) {
            return 0;
        }
        int i1 = (int) (pageIndex >>> BITS) & MASK;
        int[] leaf = (int[]) low.children[i1];
        if (leaf == null) {
            return 0;
        }
        int i0 = (int) pageIndex & MASK;
        int old = leaf[i0];
        if (old == 0) {
            return 0;
        }
        leaf[i0] = 0;
        population--;
        if (--leaf[LEAF_COUNT] == 0) {
            dropEmptyLeaf(pageIndex >>> BITS);
        }
        return old;
    }

    /** Unlinks the leaf of {@code leafKey}, which holds no page any more, and the interior nodes it leaves empty. */
    private void dropEmptyLeaf(long leafKey) {
        Node top = root;
        int i3 = (int) (leafKey >>> (2 * BITS)) & MASK;
        Node mid = (Node) top.children[i3];
        int i2 = (int) (leafKey >>> BITS) & MASK;
        Node low = (Node) mid.children[i2];
        int i1 = (int) leafKey & MASK;
        if (low.children[i1] == hintLeaf) {
            hintLeaf = null;
            hintLeafIndex = -1;
        }
        low.children[i1] = null;
        nodes--;
        if (--low.count == 0) {
            mid.children[i2] = null;
            nodes--;
            if (--mid.count == 0) {
                top.children[i3] = null;
                nodes--;
                if (--top.count == 0) {
                    root = null;
                    nodes--;
                }
            }
        }
    }

    /** Notes that a page's content changed in place (its handle did not). */
    void touch(long pageIndex) {
        if (changes != null) {
            changes.add(pageIndex);
        }
    }

    /**
     * The pages changed since the last call and starts a new set; null on the first call, when the caller must take
     * every page. The caller holds the lock that guards the table's writers.
     */
    PageBits takeChanges() {
        PageBits taken = changes;
        changes = new PageBits();
        return taken;
    }

    /** Visits every resident page in {@code [fromPage, toPage)} in index order, skipping empty subtrees. */
    void forEach(long fromPage, long toPage, PageVisitor visitor) {
        forEachLeaf(fromPage, toPage, (leaf, lo, hi) -> {
            for (long p = lo; p < hi; p++) {
                int handle = leaf[(int) p & MASK];
                if (handle != 0) {
                    visitor.visit(p, handle);
                }
            }
        });
    }

    /** Receives the handles of a run of pages before {@link #overwriteFrom} overwrites them. */
    @FunctionalInterface
    interface HandOver {
        /**
         * The run's new handles are {@code taken[takenFrom, takenFrom + length)}, its old ones
         * {@code dropped[droppedFrom, droppedFrom + length)}; either may hold zeros (no page). The arrays are the
         * tables' own: read them, do not keep or change them.
         */
        void handOver(int[] taken, int takenFrom, int[] dropped, int droppedFrom, int length);
    }

    /** A leaf with no page, standing for an absent one in {@link #overwriteFrom}; never written. */
    private static final int[] NO_LEAF = new int[FAN];

    /**
     * Gives each page {@code p} of {@code [fromPage, toPage)} the handle {@code source} has for page
     * {@code p - deltaPages}, and no handle where the source has none: the page-table half of XNU's aligned overwrite,
     * a run of a leaf at a time ({@link System#arraycopy}) instead of a {@link #set} (a walk from the root) per page.
     * Only leaves with pages on either side are visited. Before a run is overwritten, {@code handOver} is given its
     * new and old handles, unless they are the same (nothing changes hands there). {@code touched} and the changes
     * since {@link #takeChanges} get every page resident on either side, as a {@link #set} of each would.
     * {@code source} may be this table when the two page ranges do not overlap.
     *
     * @return the pages resident on either side
     */
    long overwriteFrom(PageTable source, long fromPage, long toPage, long deltaPages, HandOver handOver,
            PageBits touched) {
        long sourceFrom = fromPage - deltaPages;
        long sourceTo = toPage - deltaPages;
        if (fromPage < 0 || toPage > MAX_PAGES || sourceFrom < 0 || sourceTo > MAX_PAGES) {
            throw new IllegalArgumentException("page range out of range: [" + fromPage + ", " + toPage + ") from "
                    + sourceFrom);
        }
        if (source == this && fromPage < sourceTo && sourceFrom < toPage) {
            throw new IllegalArgumentException("overlapping page ranges of one table: [" + fromPage + ", " + toPage
                    + ") from " + sourceFrom);
        }
        Marks marks = new Marks(touched);
        long[] visited = {0};
        // Runs in leaves that exist here, a run ending where a leaf ends on either side.
        forEachLeaf(fromPage, toPage, (leaf, lo, hi) -> {
            for (long p = lo; p < hi; ) {
                long s = p - deltaPages;
                int length = (int) Math.min(hi - p, FAN - (s & MASK));
                int[] from = source.leafAt(s >>> BITS);
                visited[0] += overwriteRun(from == null ? NO_LEAF : from, (int) s & MASK, leaf, p, length, handOver,
                        marks);
                p += length;
            }
            if (leaf[LEAF_COUNT] == 0) {
                dropEmptyLeaf(lo >>> BITS);
            }
        });
        // Runs with source pages where no leaf existed here: in leaves created for them.
        long[] created = {-1};
        source.forEachLeaf(sourceFrom, sourceTo, (from, lo, hi) -> {
            for (long s = lo; s < hi; ) {
                long p = s + deltaPages;
                int length = (int) Math.min(hi - s, FAN - (p & MASK));
                long leafKey = p >>> BITS;
                int[] leaf = leafAt(leafKey);
                if (leaf == null ? anyResident(from, (int) s & MASK, length) : leafKey == created[0]) {
                    if (leaf == null) {
                        leaf = leafForWrite(leafKey);
                        created[0] = leafKey;
                    }
                    visited[0] += overwriteRun(from, (int) s & MASK, leaf, p, length, handOver, marks);
                }
                s += length;
            }
        });
        marks.flush();
        return visited[0];
    }

    /**
     * Overwrites {@code length} handles of {@code leaf} from page {@code page} on with {@code from[fromIndex...]},
     * keeping the leaf's count and the table's population.
     *
     * @return the pages resident on either side
     */
    private int overwriteRun(int[] from, int fromIndex, int[] leaf, long page, int length, HandOver handOver,
            Marks marks) {
        int at = (int) page & MASK;
        int resident = 0;
        int before = 0;
        int after = 0;
        for (int i = 0; i < length; i++) {
            int old = leaf[at + i];
            int handle = from[fromIndex + i];
            if ((old | handle) != 0) {
                marks.mark(page + i);
                resident++;
                before += old == 0 ? 0 : 1;
                after += handle == 0 ? 0 : 1;
            }
        }
        if (resident > 0 && !java.util.Arrays.equals(from, fromIndex, fromIndex + length, leaf, at, at + length)) {
            handOver.handOver(from, fromIndex, leaf, at, length);
            System.arraycopy(from, fromIndex, leaf, at, length);
            leaf[LEAF_COUNT] += after - before;
            population += after - before;
        }
        return resident;
    }

    private static boolean anyResident(int[] leaf, int from, int length) {
        for (int i = from; i < from + length; i++) {
            if (leaf[i] != 0) {
                return true;
            }
        }
        return false;
    }

    /** Pages marked in ascending order, added to a {@link PageBits} (and to the changes) a 32-page word at a time. */
    private final class Marks {
        private final PageBits target;
        private long word = -1;
        private int bits;

        Marks(PageBits target) {
            this.target = target;
        }

        void mark(long page) {
            if (page >>> 5 != word) {
                flush();
                word = page >>> 5;
            }
            bits |= 1 << (page & 31);
        }

        void flush() {
            if (bits != 0) {
                target.addBits(word, bits);
                if (changes != null) {
                    changes.addBits(word, bits);
                }
            }
            bits = 0;
            word = -1;
        }
    }

    /** Receives a leaf of a walk and the part {@code [lo, hi)} of it inside the walk's range. */
    @FunctionalInterface
    private interface LeafVisitor {
        void visit(int[] leaf, long lo, long hi);
    }

    /** Visits every leaf with pages in {@code [fromPage, toPage)} in index order, skipping empty subtrees. */
    private void forEachLeaf(long fromPage, long toPage, LeafVisitor visitor) {
        if (root == null || fromPage >= toPage) {
            return;
        }
        long to = Math.min(toPage, MAX_PAGES);
        long span2 = 1L << (3 * BITS);
        long span1 = 1L << (2 * BITS);
        long span0 = 1L << BITS;
        for (long base3 = fromPage & -span2; base3 < to; base3 += span2) {
            Node top = root;
            if (top == null) {
                return;
            }
            Node mid = (Node) top.children[(int) (base3 >>> (3 * BITS)) & MASK];
            if (mid == null) {
                continue;
            }
            for (long base2 = Math.max(base3, fromPage & -span1); base2 < Math.min(base3 + span2, to); base2 += span1) {
                Node low = (Node) mid.children[(int) (base2 >>> (2 * BITS)) & MASK];
                if (low == null) {
                    continue;
                }
                for (long base1 = Math.max(base2, fromPage & -span0); base1 < Math.min(base2 + span1, to); base1 += span0) {
                    int[] leaf = (int[]) low.children[(int) (base1 >>> BITS) & MASK];
                    if (leaf != null) {
                        visitor.visit(leaf, Math.max(base1, fromPage), Math.min(base1 + span0, to));
                    }
                }
            }
        }
    }

    /** Whether any page in {@code [fromPage, toPage)} is resident. */
    boolean anyResident(long fromPage, long toPage) {
        if (toPage - fromPage <= 4) {
            for (long p = fromPage; p < toPage; p++) {
                if (get(p) != 0) {
                    return true;
                }
            }
            return false;
        }
        boolean[] found = new boolean[1];
        forEach(fromPage, toPage, (p, h) -> found[0] = true);
        return found[0];
    }

    /**
     * Counts, without creating them, the nodes that setting non-zero handles at given indexes would create: an upper
     * bound, exact when the indexes come in ascending order. Shared by the callers that must know, before they change
     * anything, how much heap a change can take.
     */
    final class Growth {
        private long count;
        private boolean rootCounted;
        private long lastLeaf = -1;
        private long lastLow = -1;
        private long lastMid = -1;

        /** Counts the nodes for index {@code index}. */
        void add(long index) {
            long leafKey = index >>> BITS;
            if (leafKey != lastLeaf) {
                lastLeaf = leafKey;
                addLeaf(leafKey);
            }
        }

        /** Counts the nodes for every index of {@code [from, to)}. */
        void addRange(long from, long to) {
            if (from >= to) {
                return;
            }
            for (long leafKey = from >>> BITS; leafKey <= (to - 1) >>> BITS; leafKey++) {
                if (leafKey != lastLeaf) {
                    lastLeaf = leafKey;
                    addLeaf(leafKey);
                }
            }
        }

        private void addLeaf(long leafKey) {
            long lowKey = leafKey >>> BITS;
            long midKey = lowKey >>> BITS;
            if (root == null && !rootCounted) {
                rootCounted = true;
                count++;
            }
            Node mid = root == null ? null : (Node) root.children[(int) midKey & MASK];
            if (mid == null) {
                if (midKey != lastMid) {
                    lastMid = midKey;
                    count++;
                }
                if (lowKey != lastLow) {
                    lastLow = lowKey;
                    count++;
                }
                count++;
                return;
            }
            Node low = (Node) mid.children[(int) lowKey & MASK];
            if (low == null) {
                if (lowKey != lastLow) {
                    lastLow = lowKey;
                    count++;
                }
                count++;
                return;
            }
            if (low.children[(int) leafKey & MASK] == null) {
                count++;
            }
        }

        /**
         * Counts the nodes for the pages of {@code [from, to)} that {@code source} holds, moved by {@code shift}, a
         * source leaf at a time: from its first to its last resident page in the range, which reach at most two leaves
         * here, both needed. Exact, at a step per source leaf rather than per page.
         *
         * @return the pages of {@code [from, to)} that {@code source} holds ({@link #populationIn}), counted on the way
         */
        long addLeavesOf(PageTable source, long from, long to, long shift) {
            long[] pages = {0};
            source.forEachLeaf(from, to, (leaf, lo, hi) -> {
                long first = lo;
                while (first < hi && leaf[(int) first & MASK] == 0) {
                    first++;
                }
                if (first == hi) {
                    return;
                }
                long last = hi - 1;
                while (leaf[(int) last & MASK] == 0) {
                    last--;
                }
                addRange(first + shift, last + 1 + shift);
                pages[0] += residentIn(leaf, first, last + 1);
            });
            return pages[0];
        }

        /** The nodes counted so far. */
        long count() {
            return count;
        }
    }

    /** A new count of the nodes that handles set in this table would create. */
    Growth growth() {
        return new Growth();
    }

    /** Pages with a non-zero handle in {@code [fromPage, toPage)}: a leaf's own count where the range covers it whole. */
    long populationIn(long fromPage, long toPage) {
        long[] pages = {0};
        forEachLeaf(fromPage, toPage, (leaf, lo, hi) -> pages[0] += residentIn(leaf, lo, hi));
        return pages[0];
    }

    /** Pages with a non-zero handle in {@code [lo, hi)}, all in {@code leaf}. */
    private static int residentIn(int[] leaf, long lo, long hi) {
        if (hi - lo == FAN) {
            return leaf[LEAF_COUNT];
        }
        int n = 0;
        for (long p = lo; p < hi; p++) {
            if (leaf[(int) p & MASK] != 0) {
                n++;
            }
        }
        return n;
    }
}
