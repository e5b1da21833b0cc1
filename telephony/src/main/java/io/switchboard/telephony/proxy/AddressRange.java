package io.switchboard.telephony.proxy;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** An IP address or a CIDR block ("192.168.1.0/24", "2001:db8::/32"). Literal addresses only: no DNS. */
public record AddressRange(byte[] network, int prefixLength, String text) {

    /** @throws IllegalArgumentException with a reason a person can read */
    public static AddressRange parse(String text) {
        String trimmed = text.trim();
        int slash = trimmed.indexOf('/');
        String host = slash < 0 ? trimmed : trimmed.substring(0, slash);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        byte[] address = io.netty.util.NetUtil.createByteArrayFromIpAddressString(host);
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

    static InetAddress literal(String host) throws UnknownHostException {
        return InetAddress.getByAddress(io.netty.util.NetUtil.createByteArrayFromIpAddressString(host));
    }

    @Override
    public String toString() {
        return text;
    }
}
