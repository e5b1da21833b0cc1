package io.switchboard.server.process;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.CodeSource;
import java.util.Optional;
import java.util.zip.CRC32;

/**
 * Halts the process (exit code 1) when the jar it runs from is rewritten in place.
 *
 * <p>The JVM reads classes from its jar lazily, through a file descriptor, with the jar's index read
 * once at start. When a build writes new bytes into that same file, every class not loaded yet
 * fails with {@code NoClassDefFoundError}, often where nobody logs it (an acceptor thread, a Netty
 * task, the logger itself), and the node answers nothing while it looks alive. This watch keeps a
 * descriptor of its own on the same file (the same inode) and compares, once a second, its size
 * and a checksum of its central directory (the zip's index: every entry's name, CRC-32, sizes,
 * offset and time; 2-3 MB for the node's jar) with what they were at start.
 *
 * <p>A jar replaced by a rename, or deleted, is harmless: the old inode stays readable for this
 * process, and the watch, reading that inode, sees nothing change. That is how {@code
 * ./switchboard} runs nodes (from a copy a build never writes). Running from a directory of
 * classes (tests, an IDE), there is no jar and nothing to watch.
 */
public final class JarWatch implements Runnable {
    static final long INTERVAL_MILLIS = 1000;
    /** APPNOTE.TXT 4.3.16: end of central directory record, 22 bytes and a comment of up to 64 KiB. */
    private static final int END_RECORD = 22;
    private static final int END_SIGNATURE = 0x06054b50;
    /** Zip64 jars keep the directory's place elsewhere; their last 16 MiB stand in for it. */
    private static final long ZIP64_FALLBACK_BYTES = 16L << 20;

    private final Path jar;
    private final FileChannel channel;
    private final long size;
    private final long indexStart;
    private final long indexChecksum;
    private final ByteBuffer reading = ByteBuffer.allocate(64 * 1024);
    private final CRC32 crc = new CRC32();
    private final String rewritten;

    private JarWatch(Path jar, FileChannel channel) throws IOException {
        this.jar = jar;
        this.channel = channel;
        this.size = channel.size();
        this.indexStart = indexStart(channel, size);
        this.indexChecksum = checksum();
        // Built now: when the jar has changed, no class may be loaded to say so.
        this.rewritten = "the jar this process runs from, " + jar + ", was rewritten while it ran, "
                + "so its classes can no longer be loaded (run nodes through ./switchboard, which runs them "
                + "from a copy a build never writes, or replace the jar by renaming a new file over it)";
        FatalErrors.class.getName(); // loaded now, for the same reason
    }

    /** A watch on the jar {@code type} was loaded from, or empty when it came from a directory. */
    public static Optional<JarWatch> forJarOf(Class<?> type) {
        CodeSource source = type.getProtectionDomain().getCodeSource();
        if (source == null || source.getLocation() == null) {
            return Optional.empty();
        }
        Path path;
        try {
            path = Path.of(source.getLocation().toURI());
        } catch (URISyntaxException | IllegalArgumentException e) {
            return Optional.empty();
        }
        return forJar(path);
    }

    static Optional<JarWatch> forJar(Path path) {
        if (!Files.isRegularFile(path)) {
            return Optional.empty();
        }
        try {
            return Optional.of(new JarWatch(path, FileChannel.open(path, StandardOpenOption.READ)));
        } catch (IOException e) {
            System.err.println("switchboard: cannot watch " + path + " for changes: " + e);
            return Optional.empty();
        }
    }

    public Path jar() {
        return jar;
    }

    /** Checks once a second on a daemon thread of its own for as long as the process runs. */
    public void start() {
        Thread thread = new Thread(this, "jar-watch");
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    public void run() {
        while (true) {
            try {
                Thread.sleep(INTERVAL_MILLIS);
            } catch (InterruptedException e) {
                return;
            }
            if (changed()) {
                FatalErrors.halt(rewritten, null);
            }
            if (unreadable >= UNREADABLE_CHECKS_BEFORE_HALT) {
                // the jar could not be read for several checks in a row: its classes cannot be either
                FatalErrors.halt(rewritten, null);
            }
        }
    }

    /** Whether the jar's size or central directory differ from what they were when the watch began. */
    boolean changed() {
        try {
            boolean changed = channel.size() != size || checksum() != indexChecksum;
            unreadable = 0;
            return changed;
        } catch (IOException e) {
            // one failed read (a transient EIO, an interrupted read) proves nothing: run() halts
            // only after several in a row
            unreadable++;
            return false;
        }
    }

    /** Checks in a row whose read failed. */
    private int unreadable;
    private static final int UNREADABLE_CHECKS_BEFORE_HALT = 3;

    private long checksum() throws IOException {
        crc.reset();
        long position = indexStart;
        while (position < size) {
            reading.clear();
            reading.limit((int) Math.min(reading.capacity(), size - position));
            int read = channel.read(reading, position);
            if (read < 0) {
                throw new IOException("the jar ended early");
            }
            reading.flip();
            crc.update(reading);
            position += read;
        }
        return crc.getValue();
    }

    /** Where the central directory begins, from the end record (APPNOTE.TXT 4.3.16). */
    private static long indexStart(FileChannel channel, long size) throws IOException {
        int length = (int) Math.min(size, END_RECORD + 0xFFFF);
        ByteBuffer tail = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        while (tail.hasRemaining()) {
            if (channel.read(tail, size - length + tail.position()) < 0) {
                throw new IOException("the jar ended early");
            }
        }
        for (int at = length - END_RECORD; at >= 0; at--) {
            if (tail.getInt(at) == END_SIGNATURE) {
                long directoryOffset = Integer.toUnsignedLong(tail.getInt(at + 16));
                if (directoryOffset == 0xFFFFFFFFL || directoryOffset > size) {
                    break;
                }
                return directoryOffset;
            }
        }
        return Math.max(0, size - ZIP64_FALLBACK_BYTES);
    }
}
