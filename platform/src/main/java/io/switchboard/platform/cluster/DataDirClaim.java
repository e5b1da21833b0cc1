package io.switchboard.platform.cluster;

import io.switchboard.platform.store.PrivateFile;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * The data directory a node runs from, as its membership row names it: a random {@code id} kept
 * in the directory ({@value #FILE}), the directory's canonical {@code path} and the {@code host}.
 * Only one process at a time holds a data directory (its {@code node.lock}), so a row whose claim
 * is this node's own was written by a process that is gone (a restart right after a kill -9); a
 * live row under this node's id with another claim is a second node given the same id. The path
 * is compared with the id, so a data directory copied elsewhere (its id file with it) is another
 * one; the host only says where the other node runs.
 */
public record DataDirClaim(String id, String path, String host) {
    /** The file in the data directory that keeps the id. */
    public static final String FILE = "data-dir-id";
    private static final Pattern ID = Pattern.compile("[0-9a-f-]{36}");

    /**
     * The claim of {@code dataDir}, its id made and kept on the first call. Called by the node that
     * holds the directory's lock, so two processes never make two ids for one directory.
     *
     * @throws IOException when the directory cannot be read or written
     */
    public static DataDirClaim of(Path dataDir) throws IOException {
        Path file = dataDir.resolve(FILE);
        String id;
        try {
            id = Files.readString(file).strip();
            if (!ID.matcher(id).matches()) {
                id = make(file); // damaged: a new id only costs the wait for the expiry after a crash
            }
        } catch (NoSuchFileException e) {
            id = make(file);
        }
        return new DataDirClaim(id, dataDir.toRealPath().toString(), hostName());
    }

    private static String make(Path file) throws IOException {
        String id = UUID.randomUUID().toString();
        PrivateFile.write(file, id + "\n");
        return id;
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException | RuntimeException e) {
            return "unknown host";
        }
    }
}
