package io.switchboard.platform.cluster;

import io.switchboard.platform.config.ConfigException;
import io.switchboard.platform.store.PrivateFile;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Locale;

/**
 * A node's stable id: {@code cluster.nodeId} when configured, else the one kept in the data
 * directory's {@code node-id} file, made on the first start as the host name and six random hex
 * digits ({@code door-gw-3fa9c1}), so several nodes on one machine differ and a restarted node
 * keeps its id (its call records, its leases and its row in the cluster view stay its own).
 */
public final class NodeIdentity {
    /** The file in the data directory that keeps a generated id. */
    public static final String FILE = "node-id";
    private static final SecureRandom RANDOM = new SecureRandom();

    private NodeIdentity() {
    }

    /**
     * The configured id, or the kept one, or a new one (then kept).
     *
     * @throws ConfigException when the kept file holds something that is not a node id
     * @throws IOException     when the data directory cannot be read or written
     */
    public static String resolve(ClusterSettings settings, Path dataDir) throws IOException {
        if (settings.nodeId().isPresent()) {
            return settings.nodeId().get();
        }
        Path file = dataDir.resolve(FILE);
        try {
            String kept = Files.readString(file).strip();
            if (!ClusterSettings.NODE_ID.matcher(kept).matches()) {
                throw new ConfigException("cluster.nodeId", file + " holds \"" + abbreviate(kept) + "\", not a node id;"
                        + " fix or delete the file, or set cluster.nodeId");
            }
            return kept;
        } catch (NoSuchFileException e) {
            String made = generate();
            PrivateFile.write(file, made + "\n");
            return made;
        }
    }

    /** A new id: the host name's first label, cleaned up, then six random hex digits. */
    static String generate() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (IOException | RuntimeException e) {
            host = "node";
        }
        String label = host.split("\\.")[0].toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]", "-")
                .replaceAll("^-+|-+$", "");
        if (label.isEmpty()) {
            label = "node";
        }
        if (label.length() > 40) {
            label = label.substring(0, 40);
        }
        byte[] bytes = new byte[3];
        RANDOM.nextBytes(bytes);
        return label + "-" + HexFormat.of().formatHex(bytes);
    }

    private static String abbreviate(String text) {
        return text.length() > 80 ? text.substring(0, 80) + "..." : text;
    }
}
