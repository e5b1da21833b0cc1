package io.switchboard.platform.tls;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.switchboard.platform.config.ConfigException;
import io.switchboard.platform.lifecycle.Component;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's current certificate and key, replaced without a restart when the files change.
 *
 * <p><b>Renewal.</b> certbot and other ACME clients write a new certificate and key, usually by
 * pointing symlinks at new files ({@code /etc/letsencrypt/live/NAME/} → {@code archive/}), and
 * Kubernetes swaps a {@code ..data} symlink; some tools overwrite the files in place, one after the
 * other. So this watches the directories that hold the files (and the directories their symlinks
 * lead to), waits until they have been quiet for a moment ({@code settle}), then reads both files.
 * A new pair is applied only when it is whole and valid (the key is the certificate's, the
 * certificate is valid now); otherwise the node keeps serving the pair it has, says why in the log
 * once, and tries again on the next change. Files are also compared every {@code recheck} in case
 * a change made no directory event (a file system without inotify, a symlink into a directory not
 * watched). Changes are detected by content, so touching a file reloads nothing.
 *
 * <p><b>Users.</b> TLS listeners take {@link #current()} when they start and register with
 * {@link #onChange} to swap it: Jetty by {@code SslContextFactory.reload}, Netty by building a new
 * {@code SslContext} for new channels. Connections already established keep the session they
 * negotiated either way; only new handshakes see the new certificate. Listeners run on the
 * watching thread, one after another; a pair becomes current only once every one took it.
 *
 * <p><b>Meters.</b> {@code switchboard_tls_certificate_expiry_seconds} (seconds until the current
 * certificate expires; negative once it has), {@code switchboard_tls_certificate_not_after_seconds}
 * (its expiry as a Unix time), {@code switchboard_tls_certificate_reloads_total{result}}
 * ({@code applied} or {@code refused}) and {@code switchboard_tls_certificate_pending_refused}
 * (1 while the files on disk differ from the pair in use and cannot be used).
 */
public final class NodeCertificate implements Component {
    private static final Logger log = LoggerFactory.getLogger(NodeCertificate.class);
    /** How long the directories must stay quiet before the files are read: a renewal writes several. */
    static final Duration SETTLE = Duration.ofSeconds(2);
    /** How often the files are compared even without a directory event. */
    static final Duration RECHECK = Duration.ofMinutes(1);
    /** A certificate expiring sooner than this is warned about at every (re)load. */
    private static final Duration EXPIRY_WARNING = Duration.ofDays(14);

    private final TlsSettings settings;
    private final Clock clock;
    private final Duration settle;
    private final Duration recheck;
    private final List<Consumer<ServerCredentials>> listeners = new CopyOnWriteArrayList<>();
    private final Counter applied;
    private final Counter refused;
    private volatile ServerCredentials current;
    /** Digest of the files {@link #current} was read from. */
    private byte[] loadedDigest;
    /** Digest of the files last refused, so a bad pair left on disk is reported once, not every recheck. */
    private byte[] refusedDigest;
    /** 1 while the files on disk differ from the pair in use and were refused; 0 otherwise. */
    private volatile int pendingRefused;
    private WatchService watch;
    private Thread watcher;
    /** Directories already warned about as not watchable, so each recheck does not repeat it. */
    private final Set<Path> unwatchable = new java.util.HashSet<>();

    NodeCertificate(TlsSettings settings, ServerCredentials credentials, byte[] digest, Clock clock, MeterRegistry meters,
                    Duration settle, Duration recheck) {
        this.settings = settings;
        this.current = credentials;
        this.loadedDigest = digest;
        this.clock = clock;
        this.settle = settle;
        this.recheck = recheck;
        Gauge.builder("switchboard.tls.certificate.expiry", this,
                        c -> Duration.between(c.clock.instant(), c.current.notAfter()).toSeconds())
                .baseUnit("seconds")
                .description("Seconds until the node's own TLS certificate expires (negative once it has)")
                .strongReference(true)
                .register(meters);
        Gauge.builder("switchboard.tls.certificate.not.after", this, c -> c.current.notAfter().getEpochSecond())
                .baseUnit("seconds")
                .description("When the node's own TLS certificate expires, as a Unix time")
                .strongReference(true)
                .register(meters);
        applied = Counter.builder("switchboard.tls.certificate.reloads").tag("result", "applied")
                .description("Certificate files that changed on disk: applied, or refused (the old pair kept)")
                .register(meters);
        refused = Counter.builder("switchboard.tls.certificate.reloads").tag("result", "refused")
                .description("Certificate files that changed on disk: applied, or refused (the old pair kept)")
                .register(meters);
        // The counter says a refusal happened; this says whether it still stands, so an alert on it
        // clears as soon as a good pair is applied (a renewal written in two steps is refused for
        // the moment between them and should not page anyone for an hour).
        Gauge.builder("switchboard.tls.certificate.pending.refused", this, c -> c.pendingRefused)
                .description("1 while the certificate files on disk differ from the pair in use and cannot be used; 0 otherwise")
                .strongReference(true)
                .register(meters);
    }

    /**
     * Reads and checks the certificate and key the settings name, as the node starts.
     *
     * @throws ConfigException naming the file's key ({@code tls.certificate}, {@code tls.key},
     *     {@code tls.clientCa}) and the problem: the node must not start without a usable pair
     */
    public static NodeCertificate load(TlsSettings settings, MeterRegistry meters) {
        return load(settings, Clock.systemUTC(), meters, SETTLE, RECHECK);
    }

    static NodeCertificate load(TlsSettings settings, Clock clock, MeterRegistry meters, Duration settle, Duration recheck) {
        CertificateFiles files = CertificateFiles.read(files(settings));
        byte[] digest = files.digest();
        ServerCredentials credentials;
        try {
            credentials = ServerCredentials.load(settings, clock.instant(), files);
        } catch (CertificateProblem e) {
            throw new ConfigException(e.key(), e.getMessage(), e);
        }
        NodeCertificate certificate = new NodeCertificate(settings, credentials, digest, clock, meters, settle, recheck);
        certificate.report("TLS certificate", credentials);
        return certificate;
    }

    public TlsSettings settings() {
        return settings;
    }

    /** The pair in use now. */
    public ServerCredentials current() {
        return current;
    }

    /**
     * Calls {@code listener} with each new pair before it becomes {@link #current()} (not with the
     * current one). A listener that cannot take the pair throws: the pair is then refused, the
     * listeners that took it are called again with the pair in use (so every listener serves the
     * same one), and it is tried again at the next recheck. A listener that throws must still
     * serve the pair it had.
     *
     * @return what stops these calls (a listener that closes)
     */
    public Runnable onChange(Consumer<ServerCredentials> listener) {
        Consumer<ServerCredentials> registered = Objects.requireNonNull(listener);
        listeners.add(registered);
        return () -> listeners.remove(registered);
    }

    @Override
    public String name() {
        return "tls certificate";
    }

    /**
     * Starts watching the files' directories. Without a watch service (the inotify instance limit
     * reached, a file system without one) the files are still compared every {@code recheck}.
     */
    @Override
    public synchronized void start() {
        if (watcher != null) {
            return;
        }
        try {
            watch = FileSystems.getDefault().newWatchService();
        } catch (IOException | UnsupportedOperationException e) {
            watch = null;
            log.warn("cannot watch the TLS certificate files for renewals ({}); they are compared every {} s instead",
                    e.toString(), recheck.toSeconds());
        }
        WatchService service = watch;
        if (service != null) {
            registerDirectories(service);
        }
        watcher = Thread.ofPlatform().daemon().name("tls-certificate-watch").start(() -> watchLoop(service));
    }

    /**
     * (Re)registers the watched directories. Done at start and at each recheck: a key becomes
     * invalid when its directory is deleted or replaced (a Kubernetes {@code ..data} swap, a
     * directory recreated by a deploy tool), and a symlink may now lead to another directory.
     */
    private void registerDirectories(WatchService service) {
        for (Path directory : watchedDirectories()) {
            try {
                directory.register(service, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                        StandardWatchEventKinds.ENTRY_DELETE);
                synchronized (unwatchable) {
                    unwatchable.remove(directory);
                }
            } catch (ClosedWatchServiceException e) {
                return;
            } catch (IOException e) {
                boolean first;
                synchronized (unwatchable) {
                    first = unwatchable.add(directory);
                }
                if (first) {
                    log.warn("cannot watch {} for certificate renewals ({}); the files are compared every {} s instead",
                            directory, e.toString(), recheck.toSeconds());
                }
            }
        }
    }

    @Override
    public void stop() throws IOException, InterruptedException {
        Thread stopping;
        WatchService service;
        synchronized (this) {
            stopping = watcher;
            service = watch;
            watcher = null;
            watch = null;
        }
        if (stopping == null) {
            return;
        }
        if (service != null) {
            service.close();
        }
        stopping.interrupt();
        // Outside the lock: the watcher may be inside reloadIfChanged, which holds it.
        stopping.join(1000);
    }

    /** The directories of the configured paths and of the files their symlinks lead to. */
    private Set<Path> watchedDirectories() {
        Set<Path> directories = new LinkedHashSet<>();
        for (Path file : files()) {
            directories.add(file.getParent());
            try {
                directories.add(file.toRealPath().getParent());
            } catch (IOException e) {
                // gone for the moment (a renewal in progress): its configured directory is watched
            }
        }
        directories.removeIf(directory -> directory == null || !Files.isDirectory(directory));
        return directories;
    }

    private void watchLoop(WatchService service) {
        long nextRecheck = System.nanoTime() + recheck.toNanos();
        long settleAt = 0; // 0: no change pending
        while (true) {
            long now = System.nanoTime();
            long until = settleAt != 0 ? Math.min(settleAt, nextRecheck) : nextRecheck;
            try {
                if (service == null) {
                    TimeUnit.NANOSECONDS.sleep(Math.max(until - now, 1));
                } else {
                    WatchKey key = service.poll(Math.max(until - now, 1), TimeUnit.NANOSECONDS);
                    if (key != null) {
                        key.pollEvents();
                        key.reset(); // false when the directory is gone: the recheck registers it again
                        settleAt = System.nanoTime() + settle.toNanos(); // each event restarts the wait
                    }
                }
            } catch (InterruptedException | ClosedWatchServiceException e) {
                return;
            }
            now = System.nanoTime();
            if ((settleAt != 0 && now - settleAt >= 0) || now - nextRecheck >= 0) {
                settleAt = 0;
                nextRecheck = now + recheck.toNanos();
                try {
                    reloadIfChanged();
                    if (service != null) {
                        registerDirectories(service);
                    }
                } catch (RuntimeException e) {
                    log.error("checking the TLS certificate files failed; trying again on the next change", e);
                }
            }
        }
    }

    /**
     * Reads the files if their content changed since the current pair was read, and applies the
     * new pair if it is valid. Called by the watcher; tests call it to skip the wait.
     *
     * @return true when a new pair was applied
     */
    public synchronized boolean reloadIfChanged() {
        // One read: the digest and the parse see the same bytes, so a renewal landing between them
        // cannot leave the new pair in use under the old pair's digest (or the reverse).
        CertificateFiles files = CertificateFiles.read(files());
        byte[] digest = files.digest();
        if (Arrays.equals(digest, loadedDigest)) {
            if (refusedDigest != null) {
                // the refused change was undone: the warning is no longer the last word in the log
                log.info("TLS certificate files are back to the certificate in use ({}); the refused change is gone",
                        current.summary());
            }
            pendingRefused = 0;
            refusedDigest = null;
            return false;
        }
        ServerCredentials renewed;
        try {
            renewed = ServerCredentials.load(settings, clock.instant(), files);
        } catch (CertificateProblem e) {
            refuse(digest, e.key() + ": " + e.getMessage(), null);
            return false;
        }
        ServerCredentials previous = current;
        List<Consumer<ServerCredentials>> took = new java.util.ArrayList<>();
        for (Consumer<ServerCredentials> listener : listeners) {
            try {
                listener.accept(renewed);
                took.add(listener);
            } catch (RuntimeException e) {
                // Every listener serves the same pair: those that took the new one go back.
                for (Consumer<ServerCredentials> back : took) {
                    try {
                        back.accept(previous);
                    } catch (RuntimeException again) {
                        log.error("a TLS listener could not go back to the certificate in use", again);
                    }
                }
                refuse(digest, "a TLS listener could not take the new certificate: " + e.getMessage(), e);
                return false;
            }
        }
        loadedDigest = digest;
        refusedDigest = null;
        pendingRefused = 0;
        current = renewed;
        applied.increment();
        logChange(previous, renewed);
        report("TLS certificate", renewed);
        return true;
    }

    /** What an applied change changed: the certificate, or with the same one, its chain or the client CAs. */
    private static void logChange(ServerCredentials previous, ServerCredentials renewed) {
        // the certificates themselves (their encoding), not serials: a home-made CA may give every one serial 01
        if (!previous.certificate().equals(renewed.certificate())) {
            log.info("TLS certificate replaced: serial {} (until {}) by serial {} (until {})", previous.serial(),
                    previous.notAfter(), renewed.serial(), renewed.notAfter());
            // issued earlier, not expiring earlier: a move to shorter-lived certificates is no step back
            java.time.Instant issued = renewed.certificate().getNotBefore().toInstant();
            java.time.Instant issuedBefore = previous.certificate().getNotBefore().toInstant();
            if (issued.isBefore(issuedBefore)) {
                log.warn("the new TLS certificate was issued on {}, before the one it replaced ({}): was an older one put back?",
                        issued, issuedBefore);
            }
            return;
        }
        List<String> changes = new java.util.ArrayList<>();
        if (!previous.chainInOrder().equals(renewed.chainInOrder())) {
            changes.add("the chain served is now " + renewed.chainInOrder().size() + " certificate(s), was "
                    + previous.chainInOrder().size());
        }
        if (!previous.clientCas().equals(renewed.clientCas())) {
            changes.add("tls.clientCa now holds " + renewed.clientCas().size() + " CA(s), was " + previous.clientCas().size());
        }
        if (changes.isEmpty()) {
            changes.add("the same certificate, chain and client CAs, written anew");
        }
        log.info("TLS files changed, same certificate (serial {}): {}", renewed.serial(), String.join("; ", changes));
    }

    /** Counts and logs a refused pair once per content; the next change or recheck tries again. */
    private void refuse(byte[] digest, String why, Throwable cause) {
        pendingRefused = 1;
        if (Arrays.equals(digest, refusedDigest)) {
            return;
        }
        refusedDigest = digest;
        refused.increment();
        if (cause == null) {
            log.warn("TLS certificate files changed but cannot be used, keeping the current certificate ({}): {}",
                    current.summary(), why);
        } else {
            log.error("TLS certificate files changed but cannot be used, keeping the current certificate ({}): {}",
                    current.summary(), why, cause);
        }
    }

    private void report(String what, ServerCredentials credentials) {
        log.info("{}: {}", what, credentials.summary());
        credentials.warnings().forEach(warning -> log.warn("TLS: {}", warning));
        Duration left = Duration.between(clock.instant(), credentials.notAfter());
        if (left.compareTo(EXPIRY_WARNING) < 0) {
            log.warn("the TLS certificate expires in {} h ({}); is its renewal running?", left.toHours(), credentials.notAfter());
        }
    }

    private List<Path> files() {
        return files(settings);
    }

    private static List<Path> files(TlsSettings settings) {
        return settings.clientCa() == null ? List.of(settings.certificate(), settings.key())
                : List.of(settings.certificate(), settings.key(), settings.clientCa());
    }

    /** When the current certificate expires. */
    public Instant notAfter() {
        return current.notAfter();
    }
}
