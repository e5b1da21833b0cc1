package io.switchboard.platform.lifecycle;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The running node's claim on its data directory: an OS lock on {@code node.lock} held for the
 * node's life. Two nodes on one data directory would run every monitor check twice, notify twice
 * and contend for one SQLite file; the second is refused instead, naming the first's process id.
 * The OS drops the lock when the process dies, however it dies, so a stale file never blocks a
 * start. CLI commands (account add, monitor import) do not take it: they are meant to act on the
 * data directory of a running node.
 */
final class DataDirectoryLock implements AutoCloseable {
    static final String FILE_NAME = "node.lock";

    private final FileChannel channel;
    private final FileLock lock;

    private DataDirectoryLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * @throws IllegalStateException when another node holds the directory, or the lock file cannot
     *                               be created or locked (a read-only directory, a file system
     *                               without locks), with the reason
     */
    static DataDirectoryLock acquire(Path dataDir) {
        Path file = dataDir.resolve(FILE_NAME);
        FileChannel channel;
        try {
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create " + file + " to claim the data directory: " + reason(e), e);
        }
        try {
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null; // a node in this same process holds it
            }
            if (lock == null) {
                // Read through this channel: opening the file again and closing that handle
                // would drop this process's own POSIX lock when the holder is in this process.
                String holder = readHolder(channel);
                channel.close();
                throw new IllegalStateException("another node is running on " + dataDir.toAbsolutePath()
                        + (holder.isEmpty() ? "" : " (pid " + holder + ")")
                        + "; stop it or give this one its own --data-dir");
            }
            channel.truncate(0);
            channel.write(ByteBuffer.wrap(Long.toString(ProcessHandle.current().pid()).getBytes(StandardCharsets.US_ASCII)), 0);
            channel.force(false);
            return new DataDirectoryLock(channel, lock);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new IllegalStateException("cannot lock " + file + " (does this file system support locks?): "
                    + reason(e), e);
        } catch (RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    private static String readHolder(FileChannel channel) {
        try {
            ByteBuffer buffer = ByteBuffer.allocate(32);
            channel.read(buffer, 0);
            buffer.flip();
            return StandardCharsets.US_ASCII.decode(buffer).toString().strip();
        } catch (IOException e) {
            return "";
        }
    }

    private static String reason(IOException e) {
        return io.switchboard.platform.RootCause.fileProblem(e);
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing is all that is left to do
        }
    }

    @Override
    public void close() throws IOException {
        try {
            lock.release();
        } finally {
            channel.close();
        }
    }
}
