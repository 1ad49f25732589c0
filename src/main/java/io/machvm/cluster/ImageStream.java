package io.machvm.cluster;

import io.machvm.vm.TaskImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A task image as an input stream, written by its own virtual thread into a few bounded chunks: the HTTP client
 * reads it from whichever thread it likes (java.io's piped streams tie each end to one live thread).
 */
final class ImageStream extends InputStream {
    private static final int CHUNK = 256 * 1024;
    private static final byte[] END = new byte[0];

    private final BlockingQueue<byte[]> chunks = new ArrayBlockingQueue<>(8);
    private volatile IOException failure;
    private volatile boolean closed;
    private byte[] current = new byte[0];
    private int position;
    private boolean ended;

    ImageStream(TaskImage image) {
        Thread.ofVirtual().name("image-stream").start(() -> {
            try (OutputStream out = new Chunker()) {
                image.writeTo(out);
            } catch (IOException e) {
                failure = e;
                offer(END);
            }
        });
    }

    private final class Chunker extends OutputStream {
        private byte[] buffer = new byte[CHUNK];
        private int filled;

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] data, int offset, int length) throws IOException {
            while (length > 0) {
                int n = Math.min(length, CHUNK - filled);
                System.arraycopy(data, offset, buffer, filled, n);
                filled += n;
                offset += n;
                length -= n;
                if (filled == CHUNK) {
                    flushChunk();
                }
            }
        }

        private void flushChunk() throws IOException {
            if (filled > 0) {
                byte[] chunk = filled == CHUNK ? buffer : java.util.Arrays.copyOf(buffer, filled);
                if (!offer(chunk)) {
                    throw new IOException("the reader went away");
                }
                buffer = new byte[CHUNK];
                filled = 0;
            }
        }

        @Override
        public void close() throws IOException {
            flushChunk();
            offer(END);
        }
    }

    /** Queues a chunk, waiting while the reader is behind; false when the reader has closed. */
    private boolean offer(byte[] chunk) {
        try {
            while (!closed) {
                if (chunks.offer(chunk, 100, TimeUnit.MILLISECONDS)) {
                    return true;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return false;
    }

    private boolean fill() throws IOException {
        while (!ended && position == current.length) {
            try {
                byte[] next = chunks.take();
                if (next == END) {
                    ended = true;
                } else {
                    current = next;
                    position = 0;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
        if (ended && failure != null) {
            throw failure;
        }
        return position < current.length;
    }

    @Override
    public int read() throws IOException {
        return fill() ? current[position++] & 0xff : -1;
    }

    @Override
    public int read(byte[] into, int offset, int length) throws IOException {
        if (length == 0) {
            return 0;
        }
        if (!fill()) {
            return -1;
        }
        int n = Math.min(length, current.length - position);
        System.arraycopy(current, position, into, offset, n);
        position += n;
        return n;
    }

    @Override
    public void close() {
        closed = true;
        chunks.clear();
    }
}
