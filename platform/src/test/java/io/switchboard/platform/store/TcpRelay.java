package io.switchboard.platform.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP relay a test puts between the node and a service (PostgreSQL) to stage outages. Normally
 * it forwards both ways. {@link #goSilent()} makes it a network that has gone quiet: connections
 * stay open and new ones are accepted, but nothing is forwarded (what arrives is held, not
 * dropped), so clients see neither an error nor an answer; only their timeouts help them.
 * {@link #cut()} is a network that resets: open connections are closed and new ones are closed
 * as soon as they are accepted, so clients see errors at once.
 * {@link #heal()} forwards again (held bytes first, after going silent), as when a partition ends.
 */
public final class TcpRelay implements AutoCloseable {
    private final InetSocketAddress target;
    private final ServerSocket server;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final Object gate = new Object();
    private volatile boolean silent;
    private volatile boolean closed;
    private volatile boolean refusing;

    public TcpRelay(String targetHost, int targetPort) throws IOException {
        this(InetAddress.getLoopbackAddress(), targetHost, targetPort);
    }

    /** A relay listening on a free port of {@code listen} (an address other processes reach, a network namespace's bridge). */
    public TcpRelay(InetAddress listen, String targetHost, int targetPort) throws IOException {
        this.target = new InetSocketAddress(targetHost, targetPort);
        this.server = new ServerSocket(0, 50, listen);
        Thread.ofPlatform().daemon().name("relay-accept").start(this::acceptLoop);
    }

    public int port() {
        return server.getLocalPort();
    }

    public void goSilent() {
        silent = true;
    }

    public void cut() {
        refusing = true;
        for (Socket socket : sockets) {
            closeQuietly(socket);
        }
        sockets.clear();
    }

    public void heal() {
        synchronized (gate) {
            refusing = false;
            silent = false;
            gate.notifyAll();
        }
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket client = server.accept();
                if (refusing) {
                    closeQuietly(client);
                    continue;
                }
                Socket upstream = new Socket();
                upstream.connect(target, 2000);
                sockets.add(client);
                sockets.add(upstream);
                pump(client, upstream);
                pump(upstream, client);
            } catch (IOException e) {
                if (closed) {
                    return;
                }
            }
        }
    }

    private void pump(Socket from, Socket to) {
        Thread.ofPlatform().daemon().name("relay-pump").start(() -> {
            byte[] buffer = new byte[16 * 1024];
            try (InputStream in = from.getInputStream()) {
                OutputStream out = to.getOutputStream();
                awaitForwarding();
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    awaitForwarding();
                    out.write(buffer, 0, n);
                    out.flush();
                }
                to.shutdownOutput();
            } catch (IOException | InterruptedException e) {
                closeQuietly(from);
                closeQuietly(to);
            }
        });
    }

    private void awaitForwarding() throws InterruptedException {
        synchronized (gate) {
            while (silent && !closed) {
                gate.wait();
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        heal();
        closeQuietly(server);
        sockets.forEach(TcpRelay::closeQuietly);
    }

    private static void closeQuietly(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception ignored) {
            // closing anyway
        }
    }
}
