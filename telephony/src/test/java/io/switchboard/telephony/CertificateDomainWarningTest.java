package io.switchboard.telephony;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import io.switchboard.platform.testing.CapturedLog;
import io.switchboard.platform.tls.ServerCredentials;
import io.switchboard.platform.tls.TestCertificates;
import io.switchboard.platform.tls.TestCertificates.Identity;
import io.switchboard.platform.tls.TestCertificates.KeyFormat;
import io.switchboard.platform.tls.TlsSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The warning that the node's certificate does not name the SIP domain (RFC 5922 §7), said at
 * start and at each renewal: phones that dial the domain over TLS refuse such a certificate.
 */
class CertificateDomainWarningTest {
    private static final Identity CA = TestCertificates.authority("Domain Warning Test CA");

    @TempDir
    Path dir;
    private int made;

    private ServerCredentials certificateFor(String... names) throws Exception {
        Identity node = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(30)), names);
        made++;
        return ServerCredentials.load(new TlsSettings(node.writeChain(dir.resolve(made + ".crt")),
                node.writeKey(dir.resolve(made + ".key"), KeyFormat.PKCS8), null, Duration.ofSeconds(5), Duration.ofDays(365)),
                Instant.now());
    }

    @Test
    void aCertificateThatDoesNotNameTheDomainIsSaidAboutNamingWhichCertificate() throws Exception {
        try (CapturedLog log = CapturedLog.of(Telephony.class)) {
            Telephony.warnUnlessCertificateNames(certificateFor("sip.example.org"), "sip.example.org", "the node's certificate");
            Telephony.warnUnlessCertificateNames(certificateFor("*.example.org"), "sip.example.org", "the node's certificate");
            // a SIP domain identity only (RFC 5922 §7.1), no DNS name
            Telephony.warnUnlessCertificateNames(certificateFor("sip:sip.example.org"), "sip.example.org", "the new certificate");
            assertThat(log.messagesAt(Level.WARN)).isEmpty();

            Telephony.warnUnlessCertificateNames(certificateFor("other.example.net"), "sip.example.org", "the new certificate");
            // a wildcard covers one label only (RFC 6125 §6.4.3)
            Telephony.warnUnlessCertificateNames(certificateFor("*.example.org"), "a.sip.example.org", "the node's certificate");
            assertThat(log.messagesAt(Level.WARN)).containsExactly(
                    "the new certificate names [other.example.net], not the SIP domain sip.example.org: phones that dial"
                            + " sip.example.org over TLS will refuse it (RFC 5922 §7); get a certificate for the domain, or set"
                            + " domain to a name on the certificate",
                    "the node's certificate names [*.example.org], not the SIP domain a.sip.example.org: phones that dial"
                            + " a.sip.example.org over TLS will refuse it (RFC 5922 §7); get a certificate for the domain, or set"
                            + " domain to a name on the certificate");
        }
    }
}
