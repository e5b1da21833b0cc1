package io.switchboard.monitor.definition;

import io.switchboard.platform.RootCause;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@code caFile}: a PEM file of certificates a monitor or an e-mail channel trusts beyond the
 * JDK's authorities. Read by the same code where it is written (the API checks it can be used)
 * and where it is used (a check, an SMTP connection), so a file that cannot be used is described
 * in the same words in both places.
 */
public final class CaFile {
    /** The file cannot be used; the message is the path and why, e.g. "/etc/ca.pem: no such file". */
    public static final class Unreadable extends Exception {
        Unreadable(String caFile, String why, Throwable cause) {
            super(caFile + ": " + why, cause);
        }
    }

    private CaFile() {
    }

    /** When the file last changed, to tell whether a copy read before is still current. */
    public static long modified(String caFile) throws Unreadable {
        try {
            return Files.getLastModifiedTime(path(caFile)).toMillis();
        } catch (IOException e) {
            throw new Unreadable(caFile, why(e), e);
        }
    }

    /** The largest file read as certificates. */
    static final int MAX_BYTES = 4 * 1024 * 1024;

    /** The file's certificates: at least one, each read in full. */
    public static List<X509Certificate> read(String caFile) throws Unreadable {
        Path path = path(caFile);
        if (Files.isDirectory(path)) {
            throw new Unreadable(caFile, "a directory, not a file of certificates", null);
        }
        if (Files.exists(path) && !Files.isRegularFile(path)) {
            // a FIFO or a device would block the opening below (on the API's request thread, or a
            // check's) until something writes to it, or never end: only a plain file is read
            throw new Unreadable(caFile, "not a regular file (a pipe, a device or a socket), not a file of certificates", null);
        }
        List<X509Certificate> certificates = new ArrayList<>();
        try (InputStream in = Files.newInputStream(path)) {
            if (Files.size(path) > MAX_BYTES) {
                throw tooLarge(caFile); // not read at all; the bound below is for a file that grows
            }
            // read with a bound: a mistaken path (a log, a disk image) would otherwise be read whole
            // into memory by every check of the monitor; the system's whole bundle is about 200 KB
            byte[] content = in.readNBytes(MAX_BYTES + 1);
            if (content.length > MAX_BYTES) {
                throw tooLarge(caFile);
            }
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(new java.io.ByteArrayInputStream(content))) {
                certificates.add((X509Certificate) c);
            }
        } catch (IOException e) {
            throw new Unreadable(caFile, why(e), e);
        } catch (CertificateException e) {
            // the JDK says "No certificate data" for text without a certificate; for a certificate
            // it cannot decode (one of several, maybe) its reason is what there is to say
            String reason = String.valueOf(e.getMessage());
            throw new Unreadable(caFile, reason.startsWith("No certificate data") ? "holds no PEM certificate"
                    : "holds a certificate that cannot be read (" + reason + ")", e);
        }
        if (certificates.isEmpty()) {
            throw new Unreadable(caFile, "holds no PEM certificate", null);
        }
        return certificates;
    }

    private static Unreadable tooLarge(String caFile) {
        return new Unreadable(caFile, "over " + MAX_BYTES / (1024 * 1024) + " MiB, too large for a file of certificates", null);
    }

    /**
     * Why a file could not be read, in plain words: the JDK's exceptions for a missing file or a
     * refused one carry only the path as their message ("/x/ca.pem"), which says nothing.
     */
    public static String why(IOException e) {
        return e instanceof NoSuchFileException ? "no such file" : RootCause.fileProblem(e);
    }

    private static Path path(String caFile) throws Unreadable {
        try {
            return Path.of(caFile);
        } catch (InvalidPathException e) {
            throw new Unreadable(caFile, "not a file path", e);
        }
    }
}
