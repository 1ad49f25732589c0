package io.machvm.vm;

import java.util.function.LongConsumer;

/**
 * A set of page indexes with one bit per page: 32-bit words in a {@link PageTable} indexed by {@code page / 32}. An
 * untouched range costs nothing and a member page 1/8 byte plus its share of a leaf, where a {@link PageTable} of
 * flags would cost 4 bytes a page.
 *
 * <p>Not thread-safe: guarded like the table it describes.
 */
final class PageBits {
    private final PageTable words = new PageTable();

    boolean contains(long page) {
        return (words.get(page >>> 5) & bit(page)) != 0;
    }

    void add(long page) {
        addBits(page >>> 5, bit(page));
    }

    /** Adds the pages of word {@code word} (pages {@code 32 * word} onwards) whose bits are set in {@code bits}. */
    void addBits(long word, int bits) {
        int old = words.get(word);
        if ((old | bits) != old) {
            words.set(word, old | bits);
        }
    }

    void remove(long page) {
        long w = page >>> 5;
        int old = words.get(w);
        if ((old & bit(page)) != 0) {
            words.set(w, old & ~bit(page));
        }
    }

    /** Visits the members of {@code [fromPage, toPage)} in order. */
    void forEach(long fromPage, long toPage, LongConsumer visitor) {
        if (fromPage >= toPage) {
            return;
        }
        words.forEach(fromPage >>> 5, ((toPage - 1) >>> 5) + 1, (w, mask) -> {
            for (int m = mask; m != 0; m &= m - 1) {
                long page = (w << 5) | Integer.numberOfTrailingZeros(m);
                if (page >= fromPage && page < toPage) {
                    visitor.accept(page);
                }
            }
        });
    }

    /** Removes the members of {@code [fromPage, toPage)}. */
    void removeRange(long fromPage, long toPage) {
        forEach(fromPage, toPage, this::remove);
    }

    /** The words themselves (entry {@code page / 32} holds bit {@code page % 32}), to save and restore the set. */
    PageTable words() {
        return words;
    }

    private static int bit(long page) {
        return 1 << (page & 31);
    }
}
