package io.switchboard.platform.cluster;

import io.switchboard.platform.store.PrivateFile;
import java.io.IOException;
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
 * and the host are compared with the id, so a data directory copied elsewhere (its id file with
 * it), even to the same path on another machine (a cloned VM, a restored backup), is another one.
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
        } catch (NoSuchFileException | java.nio.charset.CharacterCodingException e) {
            id = make(file); // missing, or not text: as damaged
        }
        return new DataDirClaim(id, dataDir.toRealPath().toString(), hostName());
    }

    private static String make(Path file) throws IOException {
        String id = UUID.randomUUID().toString();
        PrivateFile.write(file, id + "\n");
        return id;
    }

    /**
     * The kernel's host name, without asking DNS: InetAddress.getLocalHost can stall for seconds
     * while the resolver is down, often just when nodes restart.
     */
    private static String hostName() {
        try {
            String name = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
            if (!name.isEmpty()) {
                return name;
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: the environment's, if any
        }
        String env = System.getenv("HOSTNAME");
        return env == null || env.isBlank() ? "unknown host" : env.strip();
    }
}
