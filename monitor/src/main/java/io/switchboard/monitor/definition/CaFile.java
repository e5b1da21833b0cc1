package io.switchboard.monitor.definition;

import io.switchboard.platform.RootCause;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
            String text = new String(content, StandardCharsets.ISO_8859_1);
            String other = otherThanCertificates(text);
            if (other != null) {
                throw new Unreadable(caFile, other, null);
            }
            boolean pem = PEM_BEGIN.matcher(text).find();
            try {
                for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(content))) {
                    certificates.add((X509Certificate) c);
                }
            } catch (CertificateException e) {
                // the JDK says "No certificate data" for text without a certificate, and its DER
                // parser's words for a file with no PEM block at all (a keystore, a DER key): either
                // way there is no certificate; for a certificate block it cannot decode (one of
                // several, maybe) its reason is what there is to say
                String reason = String.valueOf(e.getMessage());
                throw new Unreadable(caFile, !pem || reason.startsWith("No certificate data") ? NO_CERTIFICATE
                        : "holds a certificate that cannot be read (" + reason + ")", e);
            }
        } catch (IOException e) {
            throw new Unreadable(caFile, why(e), e);
        }
        if (certificates.isEmpty()) {
            throw new Unreadable(caFile, NO_CERTIFICATE, null);
        }
        return certificates;
    }

    private static final String NO_CERTIFICATE = "holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
    private static final Pattern PEM_BEGIN = Pattern.compile("-----BEGIN ([^\\r\\n-]{1,64})-----");

    /**
     * Why a file with PEM blocks other than certificates is not a caFile, or null: the JDK reads
     * every block as a certificate and, for a private key, said "holds a certificate that cannot
     * be read (signed fields invalid)". A private key is named first (the commonest slip: the
     * server's key given for the CA's certificate), without its label; other kinds with theirs.
     * Blocks of kinds not named here are left to the JDK (PKCS7 bundles are certificates to it).
     */
    private static String otherThanCertificates(String text) {
        boolean certificate = false;
        String other = null;
        Matcher begin = PEM_BEGIN.matcher(text);
        while (begin.find()) {
            String label = begin.group(1).strip();
            String kind = label.contains("PRIVATE KEY") ? "a private key"
                    : label.contains("PUBLIC KEY") ? "a public key (-----BEGIN " + label + "-----)"
                    : label.contains("CERTIFICATE REQUEST") ? "a certificate request (-----BEGIN " + label + "-----)"
                    : label.equals("X509 CRL") ? "a certificate revocation list (-----BEGIN " + label + "-----)"
                    : label.endsWith("PARAMETERS") ? "key parameters (-----BEGIN " + label + "-----)"
                    : null;
            if (kind == null) {
                certificate = true;
            } else if (other == null || kind.equals("a private key")) {
                other = kind;
            }
        }
        if (other == null) {
            return null;
        }
        return certificate
                ? "holds " + other + " beside its certificates; a caFile holds only the CA's certificates (PEM, -----BEGIN CERTIFICATE-----)"
                : "holds " + other + ", not a CA certificate; give the CA's certificate (PEM, -----BEGIN CERTIFICATE-----)";
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
