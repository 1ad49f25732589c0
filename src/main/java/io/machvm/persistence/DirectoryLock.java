package io.machvm.persistence;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Holds the persistence directory for this process: an exclusive lock on {@code .lock} in it (released by the
 * operating system when the process dies, even by SIGKILL), so that two processes never write one directory.
 * Acquiring it also proves the directory writable, so a read-only or missing volume stops start-up at once rather
 * than at the first save.
 */
public final class DirectoryLock implements AutoCloseable {
    static final String SETTING = "machvm.persistence.directory";
    static final String LOCK_FILE = ".lock";

    private final FileChannel channel;
    private final FileLock lock;

    private DirectoryLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Creates the directory if needed, checks that files can be written, created and renamed there, and locks it.
     *
     * @throws UnusableDirectoryException (one line) when the directory cannot be used or another live process holds it
     */
    public static DirectoryLock acquire(Path directory) {
        try {
            Files.createDirectories(directory);
        } catch (IOException e) {
            throw unusable(directory, "cannot be created: " + describe(e));
        }
        FileChannel channel;
        try {
            channel = FileChannel.open(directory.resolve(LOCK_FILE), StandardOpenOption.CREATE,
                    StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw unusable(directory, "is not writable: " + describe(e));
        }
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        } catch (IOException e) {
            close(channel);
            throw unusable(directory, "cannot be locked: " + describe(e));
        }
        if (lock == null) {
            String holder = readHolder(channel);
            close(channel);
            throw new UnusableDirectoryException(SETTING + " " + directory + " is in use by another live process"
                    + (holder.isEmpty() ? "" : " (" + holder + ")") + "; each process needs its own directory",
                    "Give each replica its own persistence directory (a volume per pod), or stop the process that "
                            + "holds this one.");
        }
        DirectoryLock held = new DirectoryLock(channel, lock);
        try {
            byte[] who = ("pid " + ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII);
            channel.truncate(0);
            channel.write(ByteBuffer.wrap(who), 0);
            channel.force(true);
            probe(directory);
        } catch (IOException e) {
            held.close();
            throw unusable(directory, "is not writable: " + describe(e));
        }
        return held;
    }

    /** Writes, syncs, renames and deletes a file: what every save does. */
    private static void probe(Path directory) throws IOException {
        Path probe = directory.resolve(".probe.partial");
        Path renamed = directory.resolve(".probe");
        try {
            DurableFiles.write(probe, out -> out.write(new byte[] {1}));
            DurableFiles.publish(probe, renamed);
        } finally {
            Files.deleteIfExists(probe);
            Files.deleteIfExists(renamed);
        }
    }

    private static String readHolder(FileChannel channel) {
        try {
            ByteBuffer buffer = ByteBuffer.allocate(64);
            int n = channel.read(buffer, 0);
            return n <= 0 ? "" : new String(buffer.array(), 0, n, StandardCharsets.US_ASCII).strip();
        } catch (IOException e) {
            return "";
        }
    }

    private static UnusableDirectoryException unusable(Path directory, String why) {
        return new UnusableDirectoryException(SETTING + " " + directory + " " + why,
                "Point " + SETTING + " at a writable directory that this process alone uses, or leave it empty to "
                        + "keep tasks in memory only.");
    }

    static String describe(IOException e) {
        String message = e.getMessage();
        return e.getClass().getSimpleName() + (message == null ? "" : " " + message);
    }

    private static void close(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    @Override
    public void close() {
        try {
            lock.release();
        } catch (IOException ignored) {
            // closing the channel releases it too
        }
        close(channel);
    }
}
