package io.switchboard.sip.transport;

/**
 * Where a node accepts SIP: a transport, a host (an IPv6 address without brackets) and a port (0 picks one).
 */
public record ListenPoint(Transport transport, String host, int port) {
    public ListenPoint {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
    }

    /** "udp:0.0.0.0:5060" or "tcp:[::1]:5060". */
    public static ListenPoint parse(String text) {
        String spec = text.trim();
        int colon = spec.indexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("expected transport:host:port, got '" + text + "'");
        }
        Transport transport = Transport.parse(spec.substring(0, colon));
        String hostPort = spec.substring(colon + 1);
        String host;
        String port;
        if (hostPort.startsWith("[")) {
            int close = hostPort.indexOf(']');
            if (close < 0 || close + 1 >= hostPort.length() || hostPort.charAt(close + 1) != ':') {
                throw new IllegalArgumentException("expected [IPv6]:port, got '" + text + "'");
            }
            host = hostPort.substring(1, close);
            port = hostPort.substring(close + 2);
        } else {
            int last = hostPort.lastIndexOf(':');
            if (last <= 0 || hostPort.indexOf(':') != last) {
                throw new IllegalArgumentException("expected host:port (IPv6 in brackets), got '" + text + "'");
            }
            host = hostPort.substring(0, last);
            port = hostPort.substring(last + 1);
        }
        int portNumber;
        try {
            portNumber = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("port is not a number in '" + text + "'");
        }
        if (portNumber < 0 || portNumber > 65535) {
            throw new IllegalArgumentException("port out of range in '" + text + "'");
        }
        return new ListenPoint(transport, host, portNumber);
    }

    @Override
    public String toString() {
        String h = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
        return transport.uriParam() + ":" + h + ":" + port;
    }
}
