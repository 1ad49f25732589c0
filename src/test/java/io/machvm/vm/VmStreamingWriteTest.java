package io.machvm.vm;

import static io.machvm.vm.KernReturn.KERN_INVALID_ADDRESS;
import static io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT;
import static io.machvm.vm.KernReturn.MACH_SEND_INVALID_DEST;
import static io.machvm.vm.VmTestSupport.assertKern;
import static io.machvm.vm.VmTestSupport.pattern;
import static io.machvm.vm.VmTestSupport.protectionCode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The streaming vm_write: validated, streamed into fresh pages, swapped in atomically. */
class VmStreamingWriteTest {
    static final String CONFIGS = VmSemanticsTest.CONFIGS;
    static final long A = VmSemanticsTest.A;
    static final long LIMIT = 1L << 30;

    /** Delivers {@code data} in short reads, then optionally fails or runs an action before its first byte. */
    static final class TestStream extends InputStream {
        private final byte[] data;
        private final int failAfter;
        private final int chunk;
        private Runnable beforeFirstRead;
        private int at;
        int reads;

        TestStream(byte[] data, int chunk, int failAfter) {
            this.data = data;
            this.chunk = chunk;
            this.failAfter = failAfter;
        }

        static TestStream of(byte[] data) {
            return new TestStream(data, 777, -1);
        }

        TestStream before(Runnable action) {
            this.beforeFirstRead = action;
            return this;
        }

        @Override
        public int read() {
            throw new UnsupportedOperationException("single-byte reads are not expected");
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            reads++;
            if (beforeFirstRead != null) {
                Runnable r = beforeFirstRead;
                beforeFirstRead = null;
                r.run();
            }
            if (failAfter >= 0 && at >= failAfter) {
                throw new IOException("connection reset after " + at + " bytes");
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
    }

    /** A stream that must not be read (the call must fail before reading the body). */
    static InputStream untouchable() {
        return new InputStream() {
            @Override
            public int read() {
                throw new AssertionError("the body was read although the call had to fail first");
            }

            @Override
            public int read(byte[] b, int off, int len) {
                throw new AssertionError("the body was read although the call had to fail first");
            }
        };
    }

    /** Everything a failed write must leave as it was (bytes compared by content). */
    record State(List<RegionInfo> regions, byte[] bytes, long storePages) {
        static State of(VmMap map, long address, int size) {
            return new State(map.regions(), VmTestSupport.peek(map, address, size), map.store().residentPages());
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof State s && regions.equals(s.regions) && Arrays.equals(bytes, s.bytes)
                    && storePages == s.storePages;
        }

        @Override
        public int hashCode() {
            return regions.hashCode();
        }

        @Override
        public String toString() {
            return "State[regions=" + regions + ", bytes#" + Arrays.hashCode(bytes) + ", storePages=" + storePages
                    + "]";
        }
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void writesDeclaredAndUnknownLengthsAtUnalignedAddresses(Flavor f, ErrorModel m) throws IOException {
        VmMap map = VmTestSupport.newMap(f, m);
        int p = f.pageSize();
        map.allocate(A, 6L * p, VmFlags.FIXED);
        byte[] model = pattern(4 * p, 80);
        map.write(A, model);
        model = VmTestSupport.concat(model, new byte[2 * p]); // two untouched pages at the end
        int[][] cases = {{0, 1}, {p - 1, 2}, {3, 3 * p + 100}, {p, p}, {4 * p - 5, 2 * p}, {0, 6 * p}, {2 * p + 9, 5}};
        int seed = 81;
        for (int[] c : cases) {
            for (boolean declared : new boolean[] {true, false}) {
                byte[] body = pattern(c[1], seed++);
                long written = map.write(A + c[0], TestStream.of(body), declared ? c[1] : -1, LIMIT);
                assertThat(written).isEqualTo(c[1]);
                System.arraycopy(body, 0, model, c[0], c[1]);
                assertThat(map.read(A, 6L * p)).as("+%d of %d declared=%s", c[0], c[1], declared).isEqualTo(model);
                assertThat(map.store().residentPages()).isEqualTo(map.residentPages());
            }
        }
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void emptyBodies(Flavor f, ErrorModel m) throws IOException {
        VmMap map = VmTestSupport.newMap(f, m);
        assertThat(map.write(-1L, untouchable(), 0, LIMIT)).isZero();
        assertThat(map.write(0, TestStream.of(new byte[0]), -1, LIMIT)).isZero();
        assertThat(map.store().residentPages()).isZero();
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void aStreamThatFailsMidWayChangesNothing(Flavor f, ErrorModel m) throws IOException {
        VmMap map = VmTestSupport.newMap(f, m);
        int p = f.pageSize();
        map.allocate(A, 4L * p, VmFlags.FIXED);
        map.write(A + p, pattern(2 * p, 90));
        State before = State.of(map, A, 4 * p);
        for (boolean declared : new boolean[] {true, false}) {
            byte[] body = pattern(3 * p, 91);
            TestStream failing = new TestStream(body, 1000, 2 * p + 10);
            assertThatThrownBy(() -> map.write(A + 7, failing, declared ? body.length : -1, LIMIT))
                    .isInstanceOf(IOException.class).isNotInstanceOf(EOFException.class);
            assertThat(State.of(map, A, 4 * p)).isEqualTo(before);
        }
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void aStreamThatEndsEarlyChangesNothing(Flavor f, ErrorModel m) {
        VmMap map = VmTestSupport.newMap(f, m);
        int p = f.pageSize();
        map.allocate(A, 4L * p, VmFlags.FIXED);
        map.write(A, pattern(4 * p, 92));
        State before = State.of(map, A, 4 * p);
        byte[] body = pattern(2 * p, 93);
        assertThatThrownBy(() -> map.write(A + 1, TestStream.of(body), body.length + 1, LIMIT))
                .isInstanceOf(EOFException.class);
        assertThat(State.of(map, A, 4 * p)).isEqualTo(before);
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void theTransferLimitIsCheckedAfterTheMachChecks(Flavor f, ErrorModel m) throws IOException {
        VmMap map = VmTestSupport.newMap(f, m);
        int p = f.pageSize();
        map.allocate(A, 4L * p, VmFlags.FIXED);
        State before = State.of(map, A, 4 * p);
        long limit = 2L * p;
        // Declared above the limit: refused before a byte is read.
        assertThatThrownBy(() -> map.write(A, untouchable(), limit + 1, limit))
                .isInstanceOfSatisfying(TransferLimitException.class, e -> {
                    assertThat(e.kern()).isEqualTo(KERN_INVALID_ARGUMENT);
                    assertThat(e.limitBytes()).isEqualTo(limit);
                });
        // Unknown length that turns out too long.
        assertThatThrownBy(() -> map.write(A, TestStream.of(new byte[(int) limit + 1]), -1, limit))
                .isInstanceOf(TransferLimitException.class);
        assertThat(State.of(map, A, 4 * p)).isEqualTo(before);
        // Exactly the limit is fine.
        assertThat(map.write(A, TestStream.of(pattern((int) limit, 94)), -1, limit)).isEqualTo(limit);
        assertThat(map.write(A, TestStream.of(pattern((int) limit, 95)), limit, limit)).isEqualTo(limit);
        // The Mach answer comes first.
        long unmapped = A + 0x1000_0000L;
        assertKern(KERN_INVALID_ADDRESS, () -> map.write(unmapped, untouchable(), limit + 1, limit));
        assertKern(KERN_INVALID_ADDRESS, () -> map.write(-1L, untouchable(), limit + 1, limit));
        assertKern(KERN_INVALID_ADDRESS, () -> map.write(unmapped, TestStream.of(new byte[(int) limit + 1]), -1, limit));
        map.protect(A, 4L * p, false, VmProt.READ);
        assertKern(protectionCode(map, limit + 1), () -> map.write(A, untouchable(), limit + 1, limit));
        assertKern(protectionCode(map, limit + 1),
                () -> map.write(A, TestStream.of(new byte[(int) limit + 1]), -1, limit));
        assertThat(map.store().residentPages()).isEqualTo(map.residentPages());
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void destinationProblemsAreFoundBeforeTheBodyIsReadWhenTheLengthIsKnown(Flavor f, ErrorModel m) {
        VmMap map = VmTestSupport.newMap(f, m);
        int p = f.pageSize();
        map.allocate(A, 2L * p, VmFlags.FIXED);
        map.protect(A + p, p, false, VmProt.READ);
        assertKern(KERN_INVALID_ADDRESS, () -> map.write(A + 2L * p, untouchable(), 1, LIMIT));
        assertKern(KERN_INVALID_ADDRESS, () -> map.write(A - 1, untouchable(), 2, LIMIT));
        assertKern(protectionCode(map, p), () -> map.write(A + 1, untouchable(), p, LIMIT));
        assertKern(protectionCode(map, 3 * p), () -> map.write(A, TestStream.of(new byte[3 * p]), -1, LIMIT));
        assertKern(KERN_INVALID_ADDRESS, () -> map.write(A + 2L * p, TestStream.of(new byte[3 * p]), -1, LIMIT));
        assertThat(map.store().residentPages()).isZero();
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void theDestinationIsCheckedAgainWhenTheBodyHasArrived(Flavor f, ErrorModel m) {
        VmMap map = VmTestSupport.newMap(f, m);
        int p = f.pageSize();
        map.allocate(A, 3L * p, VmFlags.FIXED);
        map.write(A, pattern(3 * p, 96));
        // Unmapped while the body streams in.
        TestStream s1 = TestStream.of(pattern(2 * p, 97)).before(() -> map.deallocate(A + 2L * p, p));
        assertKern(KERN_INVALID_ADDRESS, () -> map.write(A + p, s1, 2L * p, LIMIT));
        // Made read-only while the body streams in.
        State before = State.of(map, A, 2 * p);
        TestStream s2 = TestStream.of(pattern(p, 98)).before(() -> map.protect(A, p, false, VmProt.READ));
        assertKern(protectionCode(map, p), () -> map.write(A + 1, s2, p, LIMIT));
        State after = State.of(map, A, 2 * p);
        assertThat(after.bytes()).isEqualTo(before.bytes());
        assertThat(after.storePages()).isEqualTo(before.storePages());
        // Rewritten while the body streams in: the write lands on the new contents, whose untouched bytes survive.
        byte[] fresh = pattern(2 * p, 99);
        map.protect(A, p, false, VmProt.READ | VmProt.WRITE);
        TestStream s3 = TestStream.of(new byte[] {1, 2, 3}).before(() -> map.write(A, fresh));
        assertKern(KernReturn.KERN_SUCCESS, () -> map.write(A + p - 1, s3, 3, LIMIT));
        byte[] expected = fresh.clone();
        expected[p - 1] = 1;
        expected[p] = 2;
        expected[p + 1] = 3;
        assertThat(map.read(A, 2L * p)).isEqualTo(expected);
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void streamingOverSharedPagesCopiesThem(Flavor f, ErrorModel m) throws IOException {
        VmMap map = VmTestSupport.newMap(f, m);
        int p = f.pageSize();
        long b = A + 0x1000_0000L;
        map.allocate(A, 3L * p, VmFlags.FIXED);
        map.allocate(b, 3L * p, VmFlags.FIXED);
        byte[] a = pattern(3 * p, 100);
        map.write(A, a);
        map.copy(A, 3L * p, b);
        try (PageSnapshot snapshot = map.snapshot(A, 3L * p)) {
            map.write(b + 5, TestStream.of(pattern(2 * p, 101)), 2L * p, LIMIT);
            map.write(A + 5, TestStream.of(pattern(2 * p, 102)), -1, LIMIT);
            assertThat(snapshot.toByteArray()).isEqualTo(a);
        }
        byte[] expectA = a.clone();
        System.arraycopy(pattern(2 * p, 102), 0, expectA, 5, 2 * p);
        byte[] expectB = a.clone();
        System.arraycopy(pattern(2 * p, 101), 0, expectB, 5, 2 * p);
        assertThat(map.read(A, 3L * p)).isEqualTo(expectA);
        assertThat(map.read(b, 3L * p)).isEqualTo(expectB);
        assertThat(map.store().residentPages()).isEqualTo(map.residentPages() - map.store().sharedPages());
    }

    @ParameterizedTest
    @MethodSource(CONFIGS)
    void aTerminatedTaskIsInvalidDestBeforeTheBodyIsRead(Flavor f, ErrorModel m) {
        VmMap map = VmTestSupport.newMap(f, m);
        map.allocate(A, f.pageSize(), VmFlags.FIXED);
        map.terminate();
        assertKern(MACH_SEND_INVALID_DEST, () -> map.write(A, untouchable(), 10, LIMIT));
        assertKern(MACH_SEND_INVALID_DEST, () -> map.write(A, untouchable(), -1, LIMIT));
        assertKern(MACH_SEND_INVALID_DEST, () -> map.write(A, untouchable(), 0, LIMIT));
        // Terminated while the body streams in.
        VmMap other = VmTestSupport.newMap(f, m);
        other.allocate(A, f.pageSize(), VmFlags.FIXED);
        TestStream s = TestStream.of(new byte[100]).before(other::terminate);
        assertKern(MACH_SEND_INVALID_DEST, () -> other.write(A, s, -1, LIMIT));
        assertThat(other.store().residentPages()).isZero();
        assertThat(Arrays.asList(map.store().residentPages(), other.store().residentPages())).containsOnly(0L);
    }
}
