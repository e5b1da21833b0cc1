package io.switchboard.monitor.support;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * GreenMail's SMTP server does not offer STARTTLS, so this stands in front of it: it greets, offers
 * STARTTLS in its EHLO answer and refuses everything else until the client upgrades (RFC 3207 §4),
 * performs the TLS handshake with a test certificate, then relays the encrypted session to
 * GreenMail's plain SMTP port in clear (after swallowing GreenMail's own greeting). The message
 * thus really travels through STARTTLS before GreenMail stores it.
 */
public final class StartTlsFront implements AutoCloseable {
    private final ServerSocket server;
    private final SSLContext tls;
    private final int backendPort;
    private final AtomicInteger upgraded = new AtomicInteger();

    public StartTlsFront(SSLContext tls, int backendPort) throws IOException {
        this.tls = tls;
        this.backendPort = backendPort;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().name("starttls-front").start(this::accept);
    }

    public int port() {
        return server.getLocalPort();
    }

    /** Sessions that completed the STARTTLS handshake. */
    public int upgraded() {
        return upgraded.get();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Thread.ofVirtual().start(() -> session(client));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void session(Socket client) {
        try (client) {
            BufferedReader in = new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.US_ASCII));
            OutputStream out = client.getOutputStream();
            write(out, "220 front.test ESMTP ready");
            String line;
            while ((line = in.readLine()) != null) {
                String command = line.toUpperCase();
                if (command.startsWith("EHLO")) {
                    write(out, "250-front.test\r\n250 STARTTLS");
                } else if (command.startsWith("HELO")) {
                    write(out, "250 front.test");
                } else if (command.equals("STARTTLS")) {
                    write(out, "220 2.0.0 Ready to start TLS");
                    SSLSocket secure = (SSLSocket) tls.getSocketFactory().createSocket(client, "127.0.0.1", client.getPort(), true);
                    secure.setUseClientMode(false);
                    secure.startHandshake();
                    upgraded.incrementAndGet();
                    relay(secure);
                    return;
                } else if (command.equals("QUIT")) {
                    write(out, "221 bye");
                    return;
                } else {
                    write(out, "530 5.7.0 Must issue a STARTTLS command first");
                }
            }
        } catch (IOException e) {
            // the client hung up
        }
    }

    private void relay(SSLSocket secure) throws IOException {
        try (Socket backend = new Socket(InetAddress.getLoopbackAddress(), backendPort)) {
            InputStream fromBackend = backend.getInputStream();
            // GreenMail greets the new connection; the client was greeted already
            int b;
            StringBuilder greeting = new StringBuilder();
            while ((b = fromBackend.read()) >= 0) {
                greeting.append((char) b);
                if (greeting.toString().endsWith("\r\n") && greeting.charAt(3) == ' ') {
                    break;
                }
            }
            Thread pump = Thread.ofVirtual().start(() -> copy(fromBackend, secure));
            copy(secure.getInputStream(), backend);
            pump.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void copy(InputStream from, Socket to) {
        try {
            from.transferTo(to.getOutputStream());
            to.shutdownOutput();
        } catch (IOException | UnsupportedOperationException e) {
            // one side closed
        }
    }

    private static void write(OutputStream out, String reply) throws IOException {
        out.write((reply + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
