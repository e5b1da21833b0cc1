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

    @Override
    public String toString() {
        String h = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
        return transport.uriParam() + ":" + h + ":" + port;
    }
}
