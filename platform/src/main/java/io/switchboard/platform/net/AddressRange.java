package io.switchboard.platform.net;

import io.switchboard.platform.config.ConfigSection;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * An IP address or a CIDR block ("192.168.1.0/24", "2001:db8::/32"). Literal addresses only: no DNS.
 * Used wherever a setting names peers by address: SIP trusted peers and PROXY-protocol sources,
 * HTTP trusted proxies.
 */
public record AddressRange(byte[] network, int prefixLength, String text) {
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
    private static final Pattern IPV6 = Pattern.compile("[0-9A-Fa-f:.]+");

    /** @throws IllegalArgumentException with a reason a person can read */
    public static AddressRange parse(String text) {
        String trimmed = text.trim();
        int slash = trimmed.indexOf('/');
        String host = slash < 0 ? trimmed : trimmed.substring(0, slash);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        InetAddress literal = literal(host);
        byte[] address = literal == null ? null : literal.getAddress();
        if (address == null) {
            throw new IllegalArgumentException("'" + text + "' is not an IP address or CIDR block");
        }
        int bits = address.length * 8;
        int prefix = bits;
        if (slash >= 0) {
            try {
                prefix = Integer.parseInt(trimmed.substring(slash + 1));
            } catch (NumberFormatException e) {
                prefix = -1;
            }
            if (prefix < 0 || prefix > bits) {
                throw new IllegalArgumentException("'" + text + "' has a prefix length outside 0.." + bits);
            }
        }
        return new AddressRange(address, prefix, trimmed);
    }

    /**
     * The address ranges a setting lists (a YAML list, or comma-separated in the environment);
     * empty when it is not set. A bad entry is a config problem naming the setting and the entry.
     */
    public static List<AddressRange> listFrom(ConfigSection section, String key) {
        List<AddressRange> ranges = new ArrayList<>();
        if (section.has(key)) {
            for (String entry : section.stringList(key)) {
                try {
                    ranges.add(parse(entry));
                } catch (IllegalArgumentException e) {
                    throw section.problem(key, e.getMessage());
                }
            }
        }
        return List.copyOf(ranges);
    }

    public boolean contains(InetAddress candidate) {
        byte[] bytes = candidate.getAddress();
        if (bytes.length != network.length) {
            // an IPv4 peer seen on a dual-stack socket as ::ffff:a.b.c.d
            if (bytes.length == 16 && network.length == 4 && isMappedV4(bytes)) {
                byte[] v4 = new byte[4];
                System.arraycopy(bytes, 12, v4, 0, 4);
                bytes = v4;
            } else {
                return false;
            }
        }
        int full = prefixLength / 8;
        for (int i = 0; i < full; i++) {
            if (bytes[i] != network[i]) {
                return false;
            }
        }
        int rest = prefixLength % 8;
        if (rest == 0) {
            return true;
        }
        int mask = (0xFF << (8 - rest)) & 0xFF;
        return (bytes[full] & mask) == (network[full] & mask);
    }

    private static boolean isMappedV4(byte[] b) {
        for (int i = 0; i < 10; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return b[10] == (byte) 0xFF && b[11] == (byte) 0xFF;
    }

    /** An IP address literal (IPv6 without brackets), never a name: null for anything else (no lookup happens). */
    public static InetAddress literal(String text) {
        boolean v4 = IPV4.matcher(text).matches();
        if (!v4 && !(text.indexOf(':') >= 0 && IPV6.matcher(text).matches())) {
            return null;
        }
        if (v4) {
            for (String part : text.split("\\.")) {
                if (Integer.parseInt(part) > 255) {
                    return null;
                }
            }
        }
        try {
            return InetAddress.getByName(text); // a literal: parsed, not resolved
        } catch (UnknownHostException e) {
            return null;
        }
    }

    @Override
    public String toString() {
        return text;
    }
}
