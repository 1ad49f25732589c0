package io.machvm.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * A page store refuses what would corrupt it: a release of a free page (alone or in a batch), and bytes outside a
 * page.
 */
class PageStoreIntegrityTest {
    private static final int P = PageStoreTest.P;

    @Test
    void aReleaseOfAFreePageLeavesTheCountsAlone() {
        PageStore s = PageStoreTest.store(16, 4);
        int a = s.allocateZeroed();
        int b = s.allocateZeroed();
        s.retain(b);
        s.release(a);
        assertThatThrownBy(() -> s.release(a)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> s.retain(a)).isInstanceOf(IllegalStateException.class);
        assertThat(s.referenceCount(a)).isZero();
        assertThat(s.referenceCount(b)).isEqualTo(2);
        assertThat(s.sharedPages()).isEqualTo(1);
        assertThat(s.residentPages()).isEqualTo(1);
        // a batch holding a free page is refused at that page; the ones before it were released
        assertThatThrownBy(() -> s.releaseAll(new int[] {b, a}, 2)).isInstanceOf(IllegalStateException.class);
        assertThat(s.referenceCount(b)).isEqualTo(1);
        assertThat(s.sharedPages()).isZero();
        s.release(b);
        assertThat(s.residentPages()).isZero();
    }

    @Test
    void aBatchOfReferencesIsTakenAndDroppedFromAnOffsetAcrossSlabs() {
        PageStore s = PageStoreTest.store(16, 4);
        int[] pages = new int[10]; // three slabs: 4 + 4 + 2
        for (int i = 0; i < pages.length; i++) {
            pages[i] = s.allocateZeroed();
        }
        int[] batch = new int[12];
        System.arraycopy(pages, 0, batch, 1, pages.length);
        batch[5] = PageStore.NO_PAGE; // a hole: the zero page is skipped
        s.retainAll(batch, 1, 10);
        assertThat(s.sharedPages()).isEqualTo(9);
        assertThat(s.referenceCount(pages[0])).isEqualTo(2);
        assertThat(s.referenceCount(pages[4])).isEqualTo(1);
        s.retainAll(batch, 2, 1); // pages[1] a third time: already shared
        assertThat(s.sharedPages()).isEqualTo(9);
        s.releaseAll(batch, 1, 10);
        s.release(pages[1]);
        assertThat(s.sharedPages()).isZero();
        assertThat(s.residentPages()).isEqualTo(10);
        // the last references, from an offset: every slab is emptied and given back
        s.releaseAll(pages, 0, pages.length);
        assertThat(s.residentPages()).isZero();
        assertThat(s.slabCount()).isZero();
        assertThat(batch).startsWith(0, pages[0], pages[1], pages[2], pages[3], PageStore.NO_PAGE);
        assertThatThrownBy(() -> s.retainAll(batch, 3, 10)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> s.releaseAll(batch, -1, 2)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void aBatchHoldingAFreePageIsRefusedAtThatPage() {
        PageStore s = PageStoreTest.store(16, 4);
        int a = s.allocateZeroed();
        int b = s.allocateZeroed();
        int c = s.allocateZeroed();
        int freePage = s.allocateZeroed();
        s.release(freePage);
        // retain: the handles before the free page keep their new reference, the ones after are not touched
        assertThatThrownBy(() -> s.retainAll(new int[] {a, freePage, b}, 0, 3))
                .isInstanceOf(IllegalStateException.class);
        assertThat(s.referenceCount(a)).isEqualTo(2);
        assertThat(s.referenceCount(b)).isEqualTo(1);
        assertThat(s.referenceCount(freePage)).isZero();
        assertThat(s.sharedPages()).isEqualTo(1);
        // release: a page whose last reference went before the refusal is still freed, and counted so
        assertThatThrownBy(() -> s.releaseAll(new int[] {a, c, freePage, b}, 0, 4))
                .isInstanceOf(IllegalStateException.class);
        assertThat(s.referenceCount(a)).isEqualTo(1);
        assertThat(s.referenceCount(c)).isZero();
        assertThat(s.referenceCount(b)).isEqualTo(1);
        assertThat(s.sharedPages()).isZero();
        assertThat(s.residentPages()).isEqualTo(2);
        int reused = s.allocateZeroed(); // the slot c had, given back
        assertThat(s.residentPages()).isEqualTo(3);
        s.releaseAll(new int[] {a, b, reused}, 3);
        assertThat(s.residentPages()).isZero();
        assertThat(s.slabCount()).isZero();
    }

    @Test
    void releaseAllLeavesItsArgumentAlone() {
        PageStore s = PageStoreTest.store(16, 4);
        int a = s.allocateZeroed();
        int b = s.allocateZeroed();
        int c = s.allocateZeroed();
        s.retain(b);
        int[] handles = {a, PageStore.NO_PAGE, b, c};
        s.releaseAll(handles, handles.length);
        assertThat(handles).containsExactly(a, PageStore.NO_PAGE, b, c);
        assertThat(s.residentPages()).isEqualTo(1);
        assertThatThrownBy(() -> s.releaseAll(handles, 5)).isInstanceOf(IndexOutOfBoundsException.class);
        s.release(b);
    }

    @Test
    void bytesOutsideAPageAreRefused() {
        PageStore s = PageStoreTest.store(16, 4);
        int a = s.allocateZeroed();
        int b = s.allocateZeroed();
        byte[] buffer = new byte[2 * P];
        assertThatThrownBy(() -> s.write(a, P - 1, buffer, 0, 2)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> s.read(a, -1, buffer, 0, 1)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> s.read(a, 0, buffer, 0, P + 1)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> s.copy(a, 1, b, 0, P)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> s.copy(a, 0, b, P, 1)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> s.zero(b, P, 1)).isInstanceOf(IndexOutOfBoundsException.class);
        // the neighbouring page was not touched
        s.write(a, 0, new byte[] {7}, 0, 1);
        byte[] one = new byte[1];
        s.read(b, 0, one, 0, 1);
        assertThat(one[0]).isZero();
        s.releaseAll(new int[] {a, b}, 2);
    }
}
