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
        assertThatThrownBy(() -> notifier.send(Defs.channel(channel(mail.getSmtp().getPort(), "starttls", "s3cret-pass")), DOWN))
                .isInstanceOf(DeliveryException.class).hasMessageContaining("STARTTLS");
        assertThat(mail.getReceivedMessages()).isEmpty();
    }

    @Test
    void anUntrustedServerCertificateIsRefused() {
        String untrusted = channel(mail.getSmtps().getPort(), "tls", "s3cret-pass").replace("caFile: " + caFile + "\n", "");
        assertThatThrownBy(() -> notifier.send(Defs.channel(untrusted), DOWN)).isInstanceOf(DeliveryException.class);
        assertThat(mail.getReceivedMessages()).isEmpty();
    }

    @Test
    void aWrongPasswordIsNotRetriedAndNotShown() {
        assertThatThrownBy(() -> notifier.send(Defs.channel(channel(mail.getSmtp().getPort(), "none", "wrong-pass")), DOWN))
                .isInstanceOfSatisfying(DeliveryException.class, e -> {
                    assertThat(e.retryable()).isFalse();
                    assertThat(e.getMessage()).contains("refused the username or password").doesNotContain("wrong-pass");
                });
    }
}
