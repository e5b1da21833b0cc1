package io.switchboard.telephony.proxy;

import io.switchboard.sip.message.SipUri;
import io.switchboard.sip.transport.ListenPoint;
import io.switchboard.sip.transport.SipFlow;
import io.switchboard.sip.transport.Transport;
import io.switchboard.sip.transport.TransportLayer;
import io.switchboard.telephony.auth.DigestAuthenticator;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.Collections;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.function.IntPredicate;

/**
 * This node as other SIP elements see it: the host and port to write in Via and Record-Route for a
 * message leaving on a flow, and whether a URI (a Route entry, a Request-URI) names this node.
 * <p>
 * A socket bound to a wildcard address has no address of its own to advertise; then the configured
 * advertised address is used, or loopback towards a loopback peer, or the first address of an
 * interface that is up.
 */
public final class LocalEndpoints implements DigestAuthenticator.SipListeners {
    private final TransportLayer transport;
    private final String advertised;
    /** Whether a port is one of the node's HTTP or HTTPS ports (where SIP over WebSocket arrives). */
    private final IntPredicate httpPort;
    /** Host names that name this node (lower case): {@code telephony.aliases} and localhost. */
    private final Set<String> aliases;
    private volatile Set<String> localHosts;

    public LocalEndpoints(TransportLayer transport, String advertisedAddress, IntPredicate httpPort) {
        this(transport, advertisedAddress, httpPort, Set.of("localhost"));
    }

    public LocalEndpoints(TransportLayer transport, String advertisedAddress, IntPredicate httpPort, Set<String> aliases) {
        this.transport = transport;
        this.advertised = advertisedAddress;
        this.httpPort = httpPort;
        this.aliases = Set.copyOf(aliases);
    }

    /** The host (an address literal, IPv6 in brackets) for Via and Record-Route on a flow. */
    public String hostFor(SipFlow flow) {
        InetAddress local = flow.local().getAddress();
        if (!local.isAnyLocalAddress()) {
            return literal(local);
        }
        if (advertised != null && !advertised.isBlank()) {
            return advertised;
        }
        InetAddress remote = flow.remote().getAddress();
        if (remote.isLoopbackAddress()) {
            return remote instanceof Inet6Address ? "[::1]" : "127.0.0.1";
        }
        return firstInterfaceAddress(remote instanceof Inet6Address);
    }

    /** The port others reach this node at over the flow's transport: the listener's, not an outgoing connection's. */
    public int portFor(SipFlow flow) {
        Transport t = flow.transport();
        if (t == Transport.WS || t == Transport.WSS) {
            return flow.local().getPort();
        }
        if (t == Transport.UDP) {
            return flow.local().getPort();
        }
        for (ListenPoint point : transport.listenPoints()) {
            if (point.transport() == t) {
                return point.port();
            }
        }
        return flow.local().getPort();
    }

    /**
     * As {@link #isThisNode(SipUri)}, or the URI names the address the request reached on a
     * balancer ({@code arrivedOn}'s {@link SipFlow#balancer()}, from a PROXY header): a phone
     * behind HAProxy sees only the balancer, so it puts that address in its Request-URI or in a
     * Route to its outbound proxy.
     */
    public boolean isThisNode(SipUri uri, SipFlow arrivedOn) {
        return isThisNode(uri) || arrivedOn != null && uri.names(arrivedOn.balancer());
    }

    /**
     * True when the URI's host and port name this node: one of its addresses (or the advertised
     * one, or an alias) and one of its SIP or HTTP (WebSocket) ports; no port means the default
     * (RFC 3261 §19.1.2: 5061 for sips: or transport=tls, else 5060).
     */
    public boolean isThisNode(SipUri uri) {
        String host = uri.host().toLowerCase(Locale.ROOT);
        if (host.startsWith("[")) {
            host = host.substring(1, host.length() - 1);
        }
        if (!hosts().contains(host)) {
            return false;
        }
        return listensOn(uri.portOrDefault());
    }

    /**
     * True when the URI's host and port (the default when absent, RFC 3261 §19.1.2: 5061 for sips: or
     * transport=tls, else 5060) are those of one of
     * this node's SIP listeners: its bound address, any address of this node for a wildcard bind, or
     * the advertised address. Not the HTTP port: a digest-uri naming the node names where SIP is
     * received, which is what SIPp signs.
     */
    @Override
    public boolean isSipListener(SipUri uri) {
        if (uri.host() == null) {
            return false;
        }
        String host = unbracketed(uri.host());
        int port = uri.portOrDefault();
        for (ListenPoint point : transport.listenPoints()) {
            if (point.port() != port) {
                continue;
            }
            String bound = unbracketed(point.host());
            if (sameHost(bound, host) || (isWildcard(bound) && hosts().contains(host))
                    || (advertised != null && sameHost(unbracketed(advertised), host))) {
                return true;
            }
        }
        return false;
    }

    private static String unbracketed(String host) {
        String h = host.toLowerCase(Locale.ROOT);
        return h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
    }

    private static boolean isWildcard(String host) {
        byte[] address = io.netty.util.NetUtil.createByteArrayFromIpAddressString(host);
        return address != null && java.util.Arrays.equals(address, new byte[address.length]);
    }

    /** Equal names, or address literals written differently ({@code ::1}, {@code 0:0:0:0:0:0:0:1}). */
    private static boolean sameHost(String a, String b) {
        if (a.equals(b)) {
            return true;
        }
        byte[] x = io.netty.util.NetUtil.createByteArrayFromIpAddressString(a);
        byte[] y = io.netty.util.NetUtil.createByteArrayFromIpAddressString(b);
        return x != null && java.util.Arrays.equals(x, y);
    }

    @Override
    public boolean isSipPort(int port) {
        for (ListenPoint point : transport.listenPoints()) {
            if (point.port() == port) {
                return true;
            }
        }
        return false;
    }

    /** True when the port is one of this node's SIP or HTTP (WebSocket) ports. */
    public boolean listensOn(int port) {
        return isSipPort(port) || httpPort.test(port);
    }

    /**
     * As {@link #isThisHost(String)}, or the host is the address the request reached on a balancer
     * ({@code arrivedOn}'s {@link SipFlow#balancer()}, from a PROXY header), whatever port the
     * balancer listens on: a phone behind HAProxy knows only the balancer's address.
     */
    public boolean isThisHost(SipUri uri, SipFlow arrivedOn) {
        return isThisHost(uri.host()) || arrivedOn != null && arrivedOn.balancer() != null
                && uri.hostIs(arrivedOn.balancer().getAddress());
    }

    /** True when the host is an address of this node (any port). */
    public boolean isThisHost(String host) {
        String h = host.toLowerCase(Locale.ROOT);
        if (h.startsWith("[")) {
            h = h.substring(1, h.length() - 1);
        }
        return hosts().contains(h);
    }

    private Set<String> hosts() {
        Set<String> known = localHosts;
        if (known == null) {
            known = new HashSet<>();
            if (advertised != null && !advertised.isBlank()) {
                String a = advertised.toLowerCase(Locale.ROOT);
                known.add(a.startsWith("[") ? a.substring(1, a.length() - 1) : a);
            }
            try {
                for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                    for (InetAddress address : Collections.list(nic.getInetAddresses())) {
                        known.add(bare(address));
                    }
                }
            } catch (SocketException e) {
                known.add("127.0.0.1");
                known.add("::1");
            }
            for (ListenPoint point : transport.listenPoints()) {
                known.add(point.host().toLowerCase(Locale.ROOT));
            }
            known.addAll(aliases);
            known.add("0:0:0:0:0:0:0:1");
            known.add("::1");
            localHosts = known = Set.copyOf(known);
        }
        return known;
    }

    private static String bare(InetAddress address) {
        String text = address.getHostAddress();
        int zone = text.indexOf('%');
        text = zone >= 0 ? text.substring(0, zone) : text;
        if (address instanceof Inet6Address) {
            // the compressed form, as devices write it
            text = io.netty.util.NetUtil.toAddressString(address);
        }
        return text.toLowerCase(Locale.ROOT);
    }

    /** An address as a URI host: compressed IPv6 in brackets, without a zone. */
    static String literal(InetAddress address) {
        String bare = bare(address);
        return address instanceof Inet6Address ? "[" + bare + "]" : bare;
    }

    /** The first address of an interface that is up and not loopback (loopback if none), as a URI host. */
    public static String firstInterfaceAddress(boolean v6) {
        try {
            for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                if (!nic.isUp() || nic.isLoopback()) {
                    continue;
                }
                for (InetAddress address : Collections.list(nic.getInetAddresses())) {
                    if ((address instanceof Inet6Address) == v6 && !address.isLinkLocalAddress()) {
                        return literal(address);
                    }
                }
            }
        } catch (SocketException e) {
            // fall through to loopback
        }
        return v6 ? "[::1]" : "127.0.0.1";
    }
}
