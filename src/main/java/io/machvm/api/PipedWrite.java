package io.machvm.api;

import io.machvm.service.VmService;
import io.machvm.vm.KernException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A streaming {@code vm_write} fed from the request thread: the request thread decodes a JSON body's base64 into
 * {@link #sink()}, while a virtual thread runs {@link VmService#write(String, long, InputStream, long)} on the other
 * end, so that a large JSON write needs no more heap than a few chunks. The write commits only on {@link #finish()},
 * after the rest of the JSON has been checked; {@link #abort} makes it fail, leaving the task unchanged.
 */
final class PipedWrite {
    private static final int CHUNK = 64 * 1024;
    private static final byte[] END = new byte[0];
    private static final byte[] FAIL = new byte[0];

    private final ArrayBlockingQueue<byte[]> queue = new ArrayBlockingQueue<>(4);
    private final Thread worker;
    private volatile boolean readerDone;
    private volatile Throwable workerFailure;
    private byte[] chunk = new byte[CHUNK];
    private int fill;

    private PipedWrite(VmService service, String task, long address) {
        InputStream source = new Source();
        this.worker = Thread.ofVirtual().name("vm_write-json-" + task).start(() -> {
            try {
                service.write(task, address, source, -1);
            } catch (Throwable t) {
                workerFailure = t;
            } finally {
                readerDone = true;
            }
        });
    }

    static PipedWrite start(VmService service, String task, long address) {
        return new PipedWrite(service, task, address);
    }

    /** Where the decoded bytes go. Throws once the write has failed on the other side. */
    OutputStream sink() {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                if (fill == chunk.length) {
                    flushChunk();
                }
                chunk[fill++] = (byte) b;
            }

            @Override
            public void write(byte[] bytes, int offset, int length) throws IOException {
                while (length > 0) {
                    if (fill == chunk.length) {
                        flushChunk();
                    }
                    int n = Math.min(length, chunk.length - fill);
                    System.arraycopy(bytes, offset, chunk, fill, n);
                    fill += n;
                    offset += n;
                    length -= n;
                }
            }
        };
    }

    private void flushChunk() throws IOException {
        put(chunk);
        chunk = new byte[CHUNK];
        fill = 0;
    }

    private void put(byte[] item) throws IOException {
        try {
            while (!queue.offer(item, 50, TimeUnit.MILLISECONDS)) {
                if (readerDone) {
                    throw new IOException("the write ended before its data");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /** Ends the data: the write validates, commits and returns; its failure is thrown here. */
    void finish() {
        try {
            if (fill > 0) {
                put(java.util.Arrays.copyOf(chunk, fill));
            }
            put(END);
        } catch (IOException e) {
            // the worker has already ended; its failure (if any) is reported below
        }
        join();
        Throwable failure = workerFailure;
        if (failure != null) {
            throw asRuntime(failure);
        }
    }

    /**
     * Makes the write fail because of {@code cause} (the body was malformed or broke off) and returns what to report:
     * the write's own failure when it failed first (an unknown task, a limit), else {@code cause}.
     */
    RuntimeException abort(RuntimeException cause) {
        queue.clear();
        while (!readerDone && !queue.offer(FAIL)) {
            queue.clear();
        }
        join();
        Throwable failure = workerFailure;
        if (failure instanceof KernException || failure instanceof ApiProblem) {
            return (RuntimeException) failure;
        }
        return cause;
    }

    private void join() {
        boolean interrupted = false;
        while (true) {
            try {
                worker.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static RuntimeException asRuntime(Throwable failure) {
        if (failure instanceof RuntimeException r) {
            return r;
        }
        if (failure instanceof IOException io) {
            return new BodyStreamException(io);
        }
        if (failure instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(failure);
    }

    /** The worker's end of the pipe. */
    private final class Source extends InputStream {
        private byte[] current = new byte[0];
        private int position;
        private boolean ended;

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xFF;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            if (length == 0) {
                return 0;
            }
            while (position == current.length) {
                if (ended) {
                    return -1;
                }
                byte[] next;
                try {
                    next = queue.take();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted", e);
                }
                if (next == END) {
                    ended = true;
                    return -1;
                }
                if (next == FAIL) {
                    throw new IOException("the request body was refused");
                }
                current = next;
                position = 0;
            }
            int n = Math.min(length, current.length - position);
            System.arraycopy(current, position, buffer, offset, n);
            position += n;
            return n;
        }
    }
}
