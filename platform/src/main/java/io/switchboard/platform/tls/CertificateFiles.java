package io.switchboard.platform.tls;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The certificate, key and CA files as read at one moment: the bytes of each, or why it could not
 * be read. {@link NodeCertificate} digests and parses the same read, so what it compares is what
 * it loaded.
 */
final class CertificateFiles {
    /** Per file: its bytes ({@code byte[]}) or the {@link IOException} reading it gave. */
    private final Map<Path, Object> contents;

    private CertificateFiles(Map<Path, Object> contents) {
        this.contents = contents;
    }

    static CertificateFiles read(List<Path> files) {
        Map<Path, Object> contents = new LinkedHashMap<>();
        for (Path file : files) {
            if (contents.containsKey(file)) {
                continue; // the certificate and the key in one file
            }
            try {
                if (Files.isDirectory(file)) {
                    contents.put(file, new DirectoryNotPem());
                } else {
                    contents.put(file, Files.readAllBytes(file));
                }
            } catch (IOException e) {
                contents.put(file, e);
            }
        }
        return new CertificateFiles(contents);
    }

    /**
     * The bytes of {@code file} as read.
     *
     * @throws IOException what reading it gave ({@link NoSuchFileException}, access denied, ...)
     */
    byte[] bytes(Path file) throws IOException {
        Object content = contents.get(file);
        if (content == null) {
            return Files.readAllBytes(file); // not among the files read together (not expected)
        }
        if (content instanceof IOException e) {
            throw e;
        }
        return (byte[]) content;
    }

    /** One digest over the contents (a missing or unreadable file counts as its own state). */
    byte[] digest() {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from the JDK", e);
        }
        for (Object content : contents.values()) {
            switch (content) {
                case byte[] bytes -> {
                    sha.update((byte) 1);
                    sha.update(ByteBuffer.allocate(8).putLong(bytes.length).array());
                    sha.update(bytes);
                }
                case NoSuchFileException missing -> sha.update((byte) 2);
                default -> sha.update((byte) 3);
            }
        }
        return sha.digest();
    }

    /** A directory where a PEM file was named. */
    static final class DirectoryNotPem extends IOException {
        DirectoryNotPem() {
            super("is a directory, not a PEM file");
        }
    }
}
