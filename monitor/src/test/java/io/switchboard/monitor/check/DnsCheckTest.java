package io.switchboard.monitor.check;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.monitor.support.Defs;
import io.switchboard.monitor.support.DnsResponder;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class DnsCheckTest {
    static DnsResponder dns;
    static final DnsCheck check = new DnsCheck(Clock.systemUTC());

    @BeforeAll
    static void start() throws Exception {
        dns = new DnsResponder().zone(
                "shop.test. 60 IN A 192.0.2.10",
                "shop.test. 60 IN A 192.0.2.11",
                "shop.test. 60 IN AAAA 2001:db8::10",
                "www.shop.test. 60 IN CNAME shop.test.",
                "shop.test. 60 IN MX 10 mail.shop.test.",
                "shop.test. 60 IN TXT \"v=spf1 -all\"");
    }

    @AfterAll
    static void stop() throws Exception {
        dns.close();
    }

    private static String monitor(String target, String extra) {
        return "name: dns\ntype: dns\ntarget: " + target + "\ntimeout: 2s\nresolver: " + dns.address() + "\n" + extra;
    }

    @Test
    void expectedAddressesAreUp() throws Exception {
        CheckResult r = check.run(Defs.monitor(monitor("shop.test", "expect: [192.0.2.10, 192.0.2.11]\n")));
        assertThat(r.status()).isEqualTo(CheckStatus.UP);
        assertThat(r.details()).containsEntry("rcode", "NOERROR");
        @SuppressWarnings("unchecked")
        List<String> answers = (List<String>) r.details().get("answers");
        assertThat(answers).containsExactlyInAnyOrder("192.0.2.10", "192.0.2.11");
        assertThat(r.worked()).anySatisfy(w -> assertThat(w).contains("answered (NOERROR)"));
    }

    @Test
    void otherRecordTypes() throws Exception {
        assertThat(check.run(Defs.monitor(monitor("shop.test", "recordType: AAAA\nexpect: ['2001:db8:0:0:0:0:0:10']\n"))).status())
                .isEqualTo(CheckStatus.UP);
        assertThat(check.run(Defs.monitor(monitor("www.shop.test", "recordType: CNAME\nexpect: [shop.test.]\n"))).status())
                .isEqualTo(CheckStatus.UP);
        assertThat(check.run(Defs.monitor(monitor("shop.test", "recordType: MX\nexpect: ['10 mail.shop.test']\n"))).status())
                .isEqualTo(CheckStatus.UP);
        assertThat(check.run(Defs.monitor(monitor("shop.test", "recordType: TXT\nexpect: ['v=spf1 -all']\n"))).status())
                .isEqualTo(CheckStatus.UP);
    }

    @Test
    void aChangedAddressIsDownSayingWhatItIs() throws Exception {
        CheckResult r = check.run(Defs.monitor(monitor("shop.test", "expect: [192.0.2.99]\n")));
        assertThat(r.status()).isEqualTo(CheckStatus.DOWN);
        assertThat(r.error()).startsWith("shop.test A is 192.0.2.1").endsWith("; expected 192.0.2.99");
    }

    @Test
    void aMissingNameIsDownUnlessNxdomainIsExpected() throws Exception {
        CheckResult r = check.run(Defs.monitor(monitor("gone.test", "")));
        assertThat(r.status()).isEqualTo(CheckStatus.DOWN);
        assertThat(r.error()).isEqualTo("the DNS server " + dns.address() + " answered NXDOMAIN (the name does not exist) for"
                + " gone.test; expected NOERROR");
        assertThat(check.run(Defs.monitor(monitor("gone.test", "expectRcode: NXDOMAIN\n"))).status()).isEqualTo(CheckStatus.UP);
        CheckResult noRecords = check.run(Defs.monitor(monitor("www.shop.test", "recordType: TXT\n")));
        assertThat(noRecords.error()).isEqualTo("www.shop.test has no TXT records");
    }

    /** Nothing listens at the resolver's address: the host says so (ICMP port unreachable), in words, not "null". */
    @Test
    void aResolverAddressWhereNothingListensIsDownSayingSo() throws Exception {
        int closed;
        try (java.net.DatagramSocket socket = new java.net.DatagramSocket(0, java.net.InetAddress.getLoopbackAddress())) {
            closed = socket.getLocalPort();
        }
        CheckResult r = check.run(Defs.monitor("name: dns\ntype: dns\ntarget: shop.test\ntimeout: 2s\nresolver: 127.0.0.1:"
                + closed + "\n"));
        assertThat(r.status()).isEqualTo(CheckStatus.DOWN);
        assertThat(r.error()).isEqualTo("the DNS server 127.0.0.1:" + closed
                + " could not be asked: nothing listens on its UDP port (the host said the port is closed)");
    }

    @Test
    void aSilentServerIsDownAfterTheTimeout() throws Exception {
        try (DnsResponder quiet = new DnsResponder()) {
            quiet.silent(true);
            long begin = System.nanoTime();
            CheckResult r = check.run(Defs.monitor("name: dns\ntype: dns\ntarget: shop.test\ntimeout: 700ms\nresolver: "
                    + quiet.address() + "\n"));
            assertThat(r.status()).isEqualTo(CheckStatus.DOWN);
            assertThat(r.error()).isEqualTo("the DNS server " + quiet.address() + " did not answer within 700 ms");
            assertThat((System.nanoTime() - begin) / 1_000_000).isLessThan(3000);
            assertThat(quiet.queries()).isGreaterThanOrEqualTo(1);
        }
    }
}
