package io.machvm.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** A page store refuses what would corrupt it: a release of a free page, and bytes outside a page. */
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
