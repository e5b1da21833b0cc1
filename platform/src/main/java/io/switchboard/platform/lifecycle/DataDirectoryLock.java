package io.switchboard.platform.lifecycle;

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

    /** @throws IllegalStateException when another node holds the directory */
    static DataDirectoryLock acquire(Path dataDir) throws IOException {
        Path file = dataDir.resolve(FILE_NAME);
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null; // a node in this same process holds it
        }
        if (lock == null) {
            channel.close();
            String holder = Files.readString(file, StandardCharsets.US_ASCII).strip();
            throw new IllegalStateException("another node is running on " + dataDir.toAbsolutePath()
                    + (holder.isEmpty() ? "" : " (pid " + holder + ")")
                    + "; stop it or give this one its own --data-dir");
        }
        channel.truncate(0);
        channel.write(ByteBuffer.wrap(Long.toString(ProcessHandle.current().pid()).getBytes(StandardCharsets.US_ASCII)));
        channel.force(false);
        return new DataDirectoryLock(channel, lock);
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
