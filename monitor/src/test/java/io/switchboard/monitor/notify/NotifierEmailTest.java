package io.switchboard.monitor.notify;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.icegreen.greenmail.configuration.GreenMailConfiguration;
import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import io.switchboard.monitor.check.CertificateTrust;
import io.switchboard.monitor.support.Defs;
import io.switchboard.monitor.support.StartTlsFront;
import io.switchboard.monitor.support.TestCertificates;
import jakarta.mail.internet.MimeMessage;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** E-mail delivery through GreenMail: plain SMTP with a password, implicit TLS (SMTPS), and STARTTLS. */
class NotifierEmailTest {
    static GreenMail mail;
    static Path caFile;
    static TestCertificates.Identity serverIdentity;
    static final NotifierEmail notifier = new NotifierEmail(new CertificateTrust(), Duration.ofSeconds(5));
    static final Notification DOWN = new Notification(Notification.Event.DOWN, "shop", "http", "http://127.0.0.1:8000/health",
            7L, "down", Instant.parse("2025-06-01T10:00:00Z"), 3, "shop is DOWN: the server answered HTTP 503",
            "shop is DOWN.\nWhat is wrong: the server answered HTTP 503.", Instant.parse("2025-06-01T10:00:05Z"));

    @BeforeAll
    static void start() throws Exception {
        Path dir = Files.createTempDirectory("mail-tls");
        TestCertificates.Identity ca = TestCertificates.authority("Mail Test CA");
        serverIdentity = TestCertificates.server(ca, Instant.now().plus(Duration.ofDays(30)), "127.0.0.1", "localhost");
        caFile = TestCertificates.writePem(dir.resolve("ca.pem"), ca.certificate());
        // GreenMail's SMTPS reads its server certificate from these properties when it first starts TLS
        System.setProperty("greenmail.tls.keystore.file", serverIdentity.writeKeyStore(dir.resolve("server.p12"), "changeit").toString());
        System.setProperty("greenmail.tls.keystore.password", "changeit");
        mail = new GreenMail(new ServerSetup[]{
                new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_SMTP).dynamicPort(),
                new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_SMTPS).dynamicPort()})
                .withConfiguration(GreenMailConfiguration.aConfig().withUser("ops@example.org", "monitor", "s3cret-pass"));
        mail.start();
    }

    @AfterAll
    static void stop() {
        mail.stop();
    }

    @BeforeEach
    void clear() throws Exception {
        mail.purgeEmailFromAllMailboxes();
    }

    private static String channel(int port, String security, String password) {
        return "name: mail\ntype: email\nhost: 127.0.0.1\nport: " + port + "\nsecurity: " + security
                + "\nusername: monitor\npassword: " + password + "\nfrom: monitor@example.org\nto: [ops@example.org]\ncaFile: " + caFile + "\n";
    }

    @Test
    void plainSmtpWithAPassword() throws Exception {
        notifier.send(Defs.channel(channel(mail.getSmtp().getPort(), "none", "s3cret-pass")), DOWN);
        assertThat(mail.waitForIncomingEmail(5000, 1)).isTrue();
        MimeMessage received = mail.getReceivedMessages()[0];
        assertThat(received.getSubject()).isEqualTo("[Switchboard] shop is DOWN: the server answered HTTP 503");
        assertThat(((String) received.getContent()).replace("\r\n", "\n").strip()).isEqualTo(DOWN.text());
        assertThat(received.getFrom()[0].toString()).isEqualTo("monitor@example.org");
        assertThat(received.getHeader("X-Switchboard-Event")[0]).isEqualTo("monitor.down");
    }

    /**
     * A message delivered twice (a retry after a failure that may have come after the server took
     * it, or a copy sent again after a node died) carries the same Message-ID both times, made from
     * its id (RFC 5322 §3.6.4), so a mail client keeps one; it used to get a new one each attempt.
     */
    @Test
    void aMessageDeliveredTwiceKeepsItsMessageId() throws Exception {
        Notification identified = DOWN.identified("6f1c2a9e-8d3b-4c5e-9f70-1a2b3c4d5e6f", false);
        notifier.send(Defs.channel(channel(mail.getSmtp().getPort(), "none", "s3cret-pass")), identified);
        notifier.send(Defs.channel(channel(mail.getSmtp().getPort(), "none", "s3cret-pass")), identified.identified(identified.id(), true));
        assertThat(mail.waitForIncomingEmail(5000, 2)).isTrue();
        MimeMessage[] received = mail.getReceivedMessages();
        assertThat(received[0].getMessageID()).isEqualTo("<6f1c2a9e-8d3b-4c5e-9f70-1a2b3c4d5e6f@switchboard.example.org>");
        assertThat(received[1].getMessageID()).isEqualTo(received[0].getMessageID());
        // a message without an identity (a test message, a digest) still has a Message-ID, its own
        notifier.send(Defs.channel(channel(mail.getSmtp().getPort(), "none", "s3cret-pass")), DOWN);
        assertThat(mail.waitForIncomingEmail(5000, 3)).isTrue();
        assertThat(mail.getReceivedMessages()[2].getMessageID()).isNotBlank().isNotEqualTo(received[0].getMessageID());
    }

    /**
     * The Message-ID's right part is a dot-atom-text (RFC 5322 §3.6.4): a sender at an address
     * literal, a domain ending in a dot or holding a character outside atext gives a fixed domain;
     * a domain in another script is written in its ASCII form. They were copied as they were,
     * making Message-IDs like {@code <id@switchboard.[127.0.0.1]>}.
     */
    @Test
    void theMessageIdsDomainIsADotAtomWhateverTheSendersDomain() {
        Notification identified = DOWN.identified("6f1c2a9e-8d3b-4c5e-9f70-1a2b3c4d5e6f", false);
        String id = "<6f1c2a9e-8d3b-4c5e-9f70-1a2b3c4d5e6f@";
        assertThat(NotifierEmail.messageId(identified, "monitor@[127.0.0.1]")).isEqualTo(id + "switchboard.invalid>");
        assertThat(NotifierEmail.messageId(identified, "monitor@example.org.")).isEqualTo(id + "switchboard.invalid>");
        assertThat(NotifierEmail.messageId(identified, "monitor@exa(mple).org")).isEqualTo(id + "switchboard.invalid>");
        assertThat(NotifierEmail.messageId(identified, "monitor@exa\"mple,org;x:y")).isEqualTo(id + "switchboard.invalid>");
        assertThat(NotifierEmail.messageId(identified, "monitor@bücher.example")).isEqualTo(id + "switchboard.xn--bcher-kva.example>");
        assertThat(NotifierEmail.messageId(identified, "monitor@example.org")).isEqualTo(id + "switchboard.example.org>");
    }

    @Test
    void implicitTls() throws Exception {
        notifier.send(Defs.channel(channel(mail.getSmtps().getPort(), "tls", "s3cret-pass")), DOWN);
        assertThat(mail.waitForIncomingEmail(5000, 1)).isTrue();
        assertThat(mail.getReceivedMessages()[0].getSubject()).contains("shop is DOWN");
    }

    @Test
    void startTls() throws Exception {
        try (StartTlsFront front = new StartTlsFront(serverIdentity.serverContext(), mail.getSmtp().getPort())) {
            notifier.send(Defs.channel(channel(front.port(), "starttls", "s3cret-pass")), DOWN);
            assertThat(front.upgraded()).isEqualTo(1);
        }
        assertThat(mail.waitForIncomingEmail(5000, 1)).isTrue();
        assertThat(mail.getReceivedMessages()[0].getSubject()).contains("shop is DOWN");
    }

    @Test
    void startTlsIsRequiredNotOptional() {
        // GreenMail's plain port offers no STARTTLS: the message must not go out in clear
        int port = mail.getSmtp().getPort();
        assertThatThrownBy(() -> notifier.send(Defs.channel(channel(port, "starttls", "s3cret-pass")), DOWN))
                .isInstanceOfSatisfying(DeliveryException.class, e -> {
                    assertThat(e.retryable()).as("the server will not grow STARTTLS by itself").isFalse();
                    assertThat(e.refused()).as("nothing was sent").isTrue();
                    assertThat(e.getMessage()).isEqualTo("sending e-mail through 127.0.0.1 failed: the SMTP server 127.0.0.1 port "
                            + port + " does not offer STARTTLS, which the channel requires (security: starttls); nothing was sent");
                });
        assertThat(mail.getReceivedMessages()).isEmpty();
    }

    @Test
    void anUntrustedServerCertificateIsRefused() {
        String untrusted = channel(mail.getSmtps().getPort(), "tls", "s3cret-pass").replace("caFile: " + caFile + "\n", "");
        assertThatThrownBy(() -> notifier.send(Defs.channel(untrusted), DOWN))
                .isInstanceOfSatisfying(DeliveryException.class, e -> {
                    assertThat(e.getMessage()).isEqualTo("sending e-mail through 127.0.0.1 failed: TLS: its certificate is not"
                            + " trusted (no authority this node trusts signed it; caFile can add a private one)");
                    assertThat(e.refused()).as("the handshake failed before any mail transaction").isTrue();
                });
        assertThat(mail.getReceivedMessages()).isEmpty();
    }

    @Test
    void aWrongPasswordIsNotRetriedAndNotShown() {
        assertThatThrownBy(() -> notifier.send(Defs.channel(channel(mail.getSmtp().getPort(), "none", "wrong-pass")), DOWN))
                .isInstanceOfSatisfying(DeliveryException.class, e -> {
                    assertThat(e.retryable()).isFalse();
                    assertThat(e.refused()).isTrue();
                    assertThat(e.getMessage()).startsWith("sending e-mail through 127.0.0.1 failed: the SMTP server said 535")
                            .endsWith(": it refused the username or password").doesNotContain("wrong-pass");
                });
    }

    @Test
    void nothingListeningIsSaidPlainly() throws Exception {
        int port;
        try (ServerSocket closed = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = closed.getLocalPort();
        }
        assertThatThrownBy(() -> notifier.send(Defs.channel(channel(port, "none", "s3cret-pass")), DOWN))
                .isInstanceOfSatisfying(DeliveryException.class, e -> {
                    assertThat(e.retryable()).isTrue();
                    assertThat(e.refused()).as("no connection was made").isTrue();
                    assertThat(e.getMessage()).isEqualTo("sending e-mail through 127.0.0.1 failed: connection refused: nothing listens at"
                            + " 127.0.0.1 port " + port);
                });
    }

    @Test
    void aServerThatNeverGreetsTimesOut() throws Exception {
        NotifierEmail quick = new NotifierEmail(new CertificateTrust(), Duration.ofSeconds(1));
        try (ServerSocket silent = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            int port = silent.getLocalPort();
            assertThatThrownBy(() -> quick.send(Defs.channel(channel(port, "none", "s3cret-pass")), DOWN))
                    .isInstanceOfSatisfying(DeliveryException.class, e -> {
                        assertThat(e.retryable()).isTrue();
                        assertThat(e.refused()).as("no greeting, so no mail transaction").isTrue();
                        assertThat(e.getMessage()).isEqualTo("sending e-mail through 127.0.0.1 failed: timed out after 1 s waiting for"
                                + " 127.0.0.1 port " + port + " to answer");
                    });
        }
    }

    @Test
    void aRefusedRecipientIsWhatTheServerSaid() throws Exception {
        try (ScriptedSmtp smtp = new ScriptedSmtp("550 5.1.1 <ops@example.org>: Recipient address rejected: User unknown")) {
            assertThatThrownBy(() -> notifier.send(Defs.channel(plainChannel(smtp.port())), DOWN))
                    .isInstanceOfSatisfying(DeliveryException.class, e -> {
                        assertThat(e.retryable()).as("5yz is permanent").isFalse();
                        assertThat(e.refused()).isTrue();
                        assertThat(e.getMessage()).isEqualTo("sending e-mail through 127.0.0.1 failed: the SMTP server said 550 5.1.1"
                                + " <ops@example.org>: Recipient address rejected: User unknown for the recipient ops@example.org");
                    });
        }
        try (ScriptedSmtp smtp = new ScriptedSmtp("451 4.7.1 Greylisted, try again in 5 minutes")) {
            assertThatThrownBy(() -> notifier.send(Defs.channel(plainChannel(smtp.port())), DOWN))
                    .isInstanceOfSatisfying(DeliveryException.class, e -> {
                        assertThat(e.retryable()).as("4yz may succeed later (RFC 5321 §4.2.1)").isTrue();
                        assertThat(e.refused()).isTrue();
                        assertThat(e.getMessage()).contains("the SMTP server said 451 4.7.1 Greylisted, try again in 5 minutes");
                    });
        }
    }

    @Test
    void aMessageRefusedAtTheEndOfDataWasNotDelivered() throws Exception {
        try (ScriptedSmtp smtp = new ScriptedSmtp("250 ok", "554 5.7.1 Message rejected as spam")) {
            assertThatThrownBy(() -> notifier.send(Defs.channel(plainChannel(smtp.port())), DOWN))
                    .isInstanceOfSatisfying(DeliveryException.class, e -> {
                        assertThat(e.refused()).as("the server answered the message with a refusal").isTrue();
                        assertThat(e.retryable()).isFalse();
                        assertThat(e.getMessage()).isEqualTo("sending e-mail through 127.0.0.1 failed: the SMTP server said 554"
                                + " 5.7.1 Message rejected as spam: it refused the message");
                    });
        }
    }

    @Test
    void aServerSilentAfterTheMessageMayHaveIt() throws Exception {
        NotifierEmail quick = new NotifierEmail(new CertificateTrust(), Duration.ofSeconds(1));
        try (ScriptedSmtp smtp = new ScriptedSmtp("250 ok", null)) {
            assertThatThrownBy(() -> quick.send(Defs.channel(plainChannel(smtp.port())), DOWN))
                    .isInstanceOfSatisfying(DeliveryException.class, e -> {
                        assertThat(e.refused()).as("the message went out; its answer did not come").isFalse();
                        assertThat(e.retryable()).isTrue();
                        assertThat(e.getMessage()).isEqualTo("sending e-mail through 127.0.0.1 failed: timed out after 1 s waiting for"
                                + " 127.0.0.1 port " + smtp.port() + " to answer");
                    });
            assertThat(smtp.messagesEnded()).isEqualTo(1);
        }
    }

    @Test
    void aServerThatHangsUpAfterTheMessageMayHaveIt() throws Exception {
        try (ScriptedSmtp smtp = new ScriptedSmtp("250 ok", ScriptedSmtp.HANG_UP)) {
            assertThatThrownBy(() -> notifier.send(Defs.channel(plainChannel(smtp.port())), DOWN))
                    .isInstanceOfSatisfying(DeliveryException.class, e -> {
                        assertThat(e.refused()).as("the server may have queued it before the line dropped").isFalse();
                        assertThat(e.retryable()).isTrue();
                        assertThat(e.getMessage()).isEqualTo("sending e-mail through 127.0.0.1 failed: 127.0.0.1 port "
                                + smtp.port() + " closed the connection before answering the message");
                    });
            assertThat(smtp.messagesEnded()).isEqualTo(1);
        }
    }

    private static String plainChannel(int port) {
        return "name: mail\ntype: email\nhost: 127.0.0.1\nport: " + port
                + "\nsecurity: none\nfrom: monitor@example.org\nto: [ops@example.org]\n";
    }

    /**
     * An SMTP server (RFC 5321) that answers the recipient and the end of the message with given
     * replies (a null end reply: it never answers the message) and accepts everything else.
     */
    static final class ScriptedSmtp implements AutoCloseable {
        /** As the end reply: close the connection instead of answering the message. */
        static final String HANG_UP = "(hang up)";
        private final ServerSocket socket = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
        private final java.util.concurrent.atomic.AtomicInteger messagesEnded = new java.util.concurrent.atomic.AtomicInteger();

        ScriptedSmtp(String recipientReply) throws IOException {
            this(recipientReply, "250 ok: queued");
        }

        ScriptedSmtp(String recipientReply, String messageEndReply) throws IOException {
            Thread.ofVirtual().start(() -> {
                while (!socket.isClosed()) {
                    try (Socket client = socket.accept();
                         BufferedReader in = new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.US_ASCII));
                         Writer out = new OutputStreamWriter(client.getOutputStream(), StandardCharsets.US_ASCII)) {
                        out.write("220 scripted ESMTP\r\n");
                        out.flush();
                        boolean inData = false;
                        for (String line; (line = in.readLine()) != null; ) {
                            if (inData) {
                                if (line.equals(".")) {
                                    inData = false;
                                    messagesEnded.incrementAndGet();
                                    if (HANG_UP.equals(messageEndReply)) {
                                        break; // the connection closes with no reply to the message
                                    }
                                    if (messageEndReply != null) {
                                        out.write(messageEndReply + "\r\n");
                                        out.flush();
                                    }
                                }
                                continue;
                            }
                            String verb = line.length() >= 4 ? line.substring(0, 4).toUpperCase(java.util.Locale.ROOT) : line;
                            String reply = switch (verb) {
                                case "EHLO", "HELO" -> "250 scripted";
                                case "RCPT" -> recipientReply;
                                case "DATA" -> "354 end with <CRLF>.<CRLF>";
                                case "QUIT" -> "221 bye";
                                default -> "250 ok";
                            };
                            out.write(reply + "\r\n");
                            out.flush();
                            inData = verb.equals("DATA");
                            if (verb.equals("QUIT")) {
                                break;
                            }
                        }
                    } catch (IOException e) {
                        // closed by the test, or the client went away
                    }
                }
            });
        }

        int port() {
            return socket.getLocalPort();
        }

        /** Messages whose end (the line holding only ".") came. */
        int messagesEnded() {
            return messagesEnded.get();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
