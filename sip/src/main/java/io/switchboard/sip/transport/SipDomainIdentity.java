package io.switchboard.sip.transport;

import io.netty.util.NetUtil;

import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Locale;

/**
 * Whether a TLS server's certificate is that of the SIP domain (or host) a request was sent to,
 * as RFC 5922 §7 says a SIP client checks it:
 * <ul>
 *   <li>§7.1: the certificate's SIP identities are its subjectAltName URIs of scheme {@code sip}
 *       without a user part; only when it has none, its subjectAltName DNS names; only when it has
 *       no subjectAltName at all, the most specific CN of its subject;</li>
 *   <li>§7.2: a domain matches an identity only as a whole name, compared without regard to case;
 *       a wildcard ({@code *.example.org}) matches nothing.</li>
 * </ul>
 * RFC 5922 names domains only. A target written as an address literal (a device's Contact,
 * {@code sips:alice@192.0.2.7}) is matched against the certificate's iPAddress entries, as RFC 6125
 * and HTTPS do, since there is no domain to check.
 */
public final class SipDomainIdentity {
    private static final int DNS_NAME = 2;
    private static final int URI = 6;
    private static final int IP_ADDRESS = 7;

    private SipDomainIdentity() {
    }

    /** True when {@code certificate} is one for {@code target} (a host name or an address literal, IPv6 with or without brackets). */
    public static boolean matches(X509Certificate certificate, String target) {
        String wanted = normalize(target);
        if (wanted.isEmpty()) {
            return false;
        }
        Collection<List<?>> alternatives;
        try {
            alternatives = certificate.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            return false;
        }
        byte[] address = NetUtil.createByteArrayFromIpAddressString(wanted);
        if (address != null) {
            if (alternatives != null) {
                for (List<?> alternative : alternatives) {
                    if ((Integer) alternative.get(0) == IP_ADDRESS
                            && Arrays.equals(address, NetUtil.createByteArrayFromIpAddressString(String.valueOf(alternative.get(1))))) {
                        return true;
                    }
                }
            }
            return false;
        }
        return identities(certificate).contains(wanted);
    }

    /** The certificate's SIP domain identities by RFC 5922 §7.1, lower case; wildcards are kept and so never match. */
    public static List<String> identities(X509Certificate certificate) {
        Collection<List<?>> alternatives;
        try {
            alternatives = certificate.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            return List.of();
        }
        List<String> uris = new ArrayList<>();
        List<String> dns = new ArrayList<>();
        if (alternatives != null) {
            for (List<?> alternative : alternatives) {
                int type = (Integer) alternative.get(0);
                String value = String.valueOf(alternative.get(1));
                if (type == URI) {
                    String domain = sipUriDomain(value);
                    if (domain != null) {
                        uris.add(domain);
                    }
                } else if (type == DNS_NAME) {
                    dns.add(normalize(value));
                }
            }
        }
        if (!uris.isEmpty()) {
            return uris;
        }
        if (alternatives != null && !alternatives.isEmpty()) {
            return dns;
        }
        String cn = commonName(certificate);
        return cn == null ? List.of() : List.of(normalize(cn));
    }

    /** The host of a {@code sip:} URI without a user part (§7.1), or null for any other URI. */
    private static String sipUriDomain(String uri) {
        if (uri.length() < 5 || !uri.regionMatches(true, 0, "sip:", 0, 4)) {
            return null;
        }
        String rest = uri.substring(4);
        if (rest.indexOf('@') >= 0) {
            return null; // a user's identity, not a domain's
        }
        int end = rest.length();
        for (char stop : new char[] {';', '?', ':'}) {
            int at = rest.indexOf(stop);
            if (at >= 0 && at < end) {
                end = at;
            }
        }
        String host = normalize(rest.substring(0, end));
        return host.isEmpty() ? null : host;
    }

    private static String commonName(X509Certificate certificate) {
        try {
            LdapName name = new LdapName(certificate.getSubjectX500Principal().getName());
            String last = null;
            for (Rdn rdn : name.getRdns()) { // least significant last: the most specific CN wins
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    last = String.valueOf(rdn.getValue());
                }
            }
            return last;
        } catch (InvalidNameException e) {
            return null;
        }
    }

    private static String normalize(String host) {
        String h = host.trim().toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        return h;
    }
}
