package io.switchboard.telephony.proxy;

import io.switchboard.sip.transport.SipFlow;
import io.switchboard.sip.transport.Transport;
import io.switchboard.sip.transport.TransportLayer;
import io.switchboard.telephony.cluster.LocalAddresses;
import io.switchboard.telephony.registrar.Binding;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import io.switchboard.sip.transport.ListenPoint;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.IntPredicate;
import java.util.function.Predicate;

/**
 * Finds the flow a request must take to reach a device: the connection it registered over (TCP,
 * WebSocket) or, over UDP, the address its requests came from, so a device behind NAT is reached
 * through its NAT binding (RFC 5626 §5.3 in spirit; RFC 3581 for the address).
 * <p>
 * Flows are also carried in our Record-Route entries as tokens ({@link #token}), so in-dialog
 * requests go back over the same path: a browser's WebSocket has no address to send to otherwise
 * (RFC 7118 §5), and a phone behind NAT is reachable only at its NAT address.
 */
public final class FlowDirectory {
    private final TransportLayer transport;
    private final Function<String, Optional<SipFlow>> webSocketFlows;
    private final LocalAddresses localAddresses;
    /**
     * When this node (this process: flow ids are per process) started, on the clock the registrar
     * stamps bindings with ({@link Binding#version}): only a TCP binding refreshed before it is
     * connected to again ({@link #reconnect}).
     */
    private final long startedAtMillis;
    /**
     * Addresses never connected to over TCP ({@link #reconnect}): the cluster's other nodes,
     * balancers (telephony.proxyProtocolFrom), trusted peers, trusted HTTP proxies.
     */
    private final Predicate<InetAddress> neverConnectTo;
    /** Ports this node listens on besides its SIP listen points (its HTTP server): never connected to on its own addresses. */
    private final IntPredicate otherListeningPorts;

    public FlowDirectory(TransportLayer transport, Function<String, Optional<SipFlow>> webSocketFlows) {
        this(transport, webSocketFlows, new LocalAddresses());
    }

    /** With the check of this host's addresses given (shared with what the node advertises). */
    public FlowDirectory(TransportLayer transport, Function<String, Optional<SipFlow>> webSocketFlows,
                  LocalAddresses localAddresses) {
        this(transport, webSocketFlows, localAddresses, System.currentTimeMillis(), address -> false, port -> false);
    }

    /**
     * @param startedAtMillis     when this node started, on the clock of {@link Binding#version}
     * @param neverConnectTo      addresses a TCP device is never connected to at (see {@link #reconnect})
     * @param otherListeningPorts ports of this node besides its SIP listeners (HTTP)
     */
    public FlowDirectory(TransportLayer transport, Function<String, Optional<SipFlow>> webSocketFlows,
                  LocalAddresses localAddresses, long startedAtMillis, Predicate<InetAddress> neverConnectTo,
                  IntPredicate otherListeningPorts) {
        this.transport = transport;
        this.webSocketFlows = webSocketFlows;
        this.localAddresses = localAddresses;
        this.startedAtMillis = startedAtMillis;
        this.neverConnectTo = neverConnectTo;
        this.otherListeningPorts = otherListeningPorts;
    }

    /** The flow to a registered device, or empty when its connection is gone (the binding is not used then). */
    public Optional<SipFlow> toBinding(Binding binding) {
        Transport t;
        try {
            t = Transport.parse(binding.transport());
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
        if (t == Transport.UDP) {
            // from the socket it registered to, when this host can send from its address (a
            // wildcard, or an address on one of its interfaces): not a floating address held elsewhere
            InetAddress local = literal(binding.localAddress());
            Optional<SipFlow> fromRegistered = local != null && (local.isAnyLocalAddress() || localAddresses.holds(local))
                    ? udpFromRegisteredSocket(binding) : Optional.empty();
            return fromRegistered.isPresent() ? fromRegistered : udp(binding.remoteAddress(), binding.remotePort());
        }
        return open(binding.flowId());
    }

    /**
     * The flow to a device registered over UDP to an address this host holds now, though another
     * node took its registration: a floating address (docs/cluster.md) that has moved here since.
     * The device's NAT binding is to that address and port, not to a node, so whichever node holds
     * the address reaches it directly, and the node that took the registration, if it is alive
     * again after a restart, cannot: it no longer holds the address and cannot send from it. Empty
     * when this node has no UDP socket bound to that address and port, or the address is not on
     * any of this host's interfaces (it is held elsewhere, or it is a wildcard).
     */
    public Optional<SipFlow> fromHeldAddress(Binding binding) {
        InetAddress local = specificUdpAddress(binding);
        return local != null && localAddresses.holds(local) ? udpFromRegisteredSocket(binding) : Optional.empty();
    }

    /**
     * The UDP listener ({@code udp:address:port}) a device registered to, when it is a specific
     * address that is not on this host now: a floating address held by another node, which alone
     * can send from it. Null for other bindings (another transport, a wildcard, an address held here).
     */
    public String heldElsewhere(Binding binding) {
        InetAddress local = specificUdpAddress(binding);
        // a remembered "not here" is read again before the request is sent the long way
        return local == null || binding.localPort() <= 0 || localAddresses.holds(local) || localAddresses.holdsNow(local) ? null
                : udpListener(local, binding.localPort());
    }

    /** The address a device registered to over UDP, when it is a specific one (not a wildcard); else null. */
    private static InetAddress specificUdpAddress(Binding binding) {
        InetAddress local = "UDP".equalsIgnoreCase(binding.transport()) ? literal(binding.localAddress()) : null;
        return local == null || local.isAnyLocalAddress() ? null : local;
    }

    /** A UDP listener as advertised among the nodes ({@code sip.holds}): {@code udp:10.0.0.100:5060}, {@code udp:[::1]:5060}. */
    public static String udpListener(InetAddress address, int port) {
        return "udp:" + hostPart(address) + ":" + port;
    }

    /**
     * The UDP listeners among {@code points} bound to a specific address that is on this host now,
     * as {@link #udpListener}: what this node advertises as {@code sip.holds}, so that the others
     * send through it what must leave from a floating address it holds.
     */
    public List<String> heldUdpListeners(List<ListenPoint> points) {
        List<String> held = new ArrayList<>();
        for (ListenPoint point : points) {
            if (point.transport() != Transport.UDP) {
                continue;
            }
            InetAddress address = literal(point.host());
            if (address != null && !address.isAnyLocalAddress() && localAddresses.holds(address)) {
                held.add(udpListener(address, point.port()));
            }
        }
        return held;
    }

    /** From the UDP socket the device registered to, when this node has one bound to that address and port. */
    private Optional<SipFlow> udpFromRegisteredSocket(Binding binding) {
        InetAddress local = literal(binding.localAddress());
        InetAddress remote = literal(binding.remoteAddress());
        if (local == null || remote == null || binding.localPort() <= 0 || binding.localPort() > 65535
                || binding.remotePort() <= 0 || binding.remotePort() > 65535) {
            return Optional.empty();
        }
        return transport.udpFlowFrom(new InetSocketAddress(local, binding.localPort()),
                new InetSocketAddress(remote, binding.remotePort()));
    }

    /** An address as the host part of {@code address:port}: an IPv6 one in brackets (RFC 3986 §3.2.2). */
    private static String hostPart(InetAddress address) {
        String text = io.netty.util.NetUtil.toAddressString(address);
        return address instanceof java.net.Inet6Address ? "[" + text + "]" : text;
    }

    private static InetAddress literal(String host) {
        byte[] bytes = host == null ? null : io.netty.util.NetUtil.createByteArrayFromIpAddressString(host);
        if (bytes == null) {
            return null;
        }
        try {
            return InetAddress.getByAddress(bytes);
        } catch (java.net.UnknownHostException e) {
            return null;
        }
    }

    /**
     * A new connection to a registered device whose own connection is gone (a restart of this node
     * ended it, or, over TLS, the device's network dropped it), as RFC 3261 §18.1.1 has a request sent over
     * TCP or TLS to a destination without an open connection open one:
     * <ul>
     *   <li>TLS, when it registered over TLS and its Contact asks for TLS ({@code sips:}, RFC 5630,
     *       or {@code transport=tls}; §26.2; the port defaults to 5061, §19.1.2);</li>
     *   <li>TCP, when it registered over TCP and its Contact is a {@code sip:} URI with
     *       {@code transport=tcp} (in any case, §19.1.1; the port defaults to 5060). Such a device
     *       says it takes requests over TCP at its Contact; a Contact without the parameter means
     *       UDP (§19.1.4), which is no connection to open.</li>
     * </ul>
     * Where to: the address the device registered <em>from</em> (its source address, which its
     * registration over a connection proved it holds) and the Contact's port. The Contact's host is
     * never looked up: a Contact is whatever the device wrote, and if the node dialled it, any
     * registered account could make the node open connections to any host and port (a relay into
     * internal networks, or to a trunk to place calls as the node). So a Contact whose host is an
     * address literal other than the source address is not connected to at all (a phone behind NAT
     * writes its private address, which the node cannot reach anyway). A name in the Contact is,
     * over TLS, the name the device's certificate must carry (RFC 5922 §7; an address literal is
     * checked against its IP names); over TCP nothing would check it, so a TCP Contact must be the
     * source address itself.
     * <p>
     * TCP only for a binding last refreshed before this node started ({@link Binding#version}
     * earlier than {@code startedAtMillis}): the feature is for a restart, which ended every
     * connection. A phone whose connection closed while this node ran (it crashed, quit, roamed)
     * stays unreachable until it registers again: over TCP nothing proves who answers at its
     * address and Contact port now (on a shared host another user could listen on that port and
     * get its calls). TLS keeps reconnecting whenever the flow is gone: the device's certificate is
     * checked against the Contact's name, which proves who answers (and a TLS peer reached by its
     * Contact is RFC 3261 §26.2's ordinary case, older than this rule).
     * <p>
     * Over TCP, never to ({@link #refusedTcpTarget}): a wildcard, multicast or link-local address
     * (169.254/16, fe80::/10); a port below 1024 or 0; an address and port this node listens on
     * (its SIP listeners, its HTTP server); a loopback address unless every SIP listener of this
     * node is on loopback too (a development or test setup on one host); the address of another
     * node of the cluster, of a balancer (telephony.proxyProtocolFrom), of a trusted peer
     * (telephony.trustedPeers) or of a trusted HTTP proxy (proxies.trusted). Phones behind a
     * balancer that does not send the PROXY protocol all register from the balancer's address, so
     * they are never connected to again: they wait for their next registration.
     * <p>
     * Never a connection the device's address and port opened to the node: only the binding's own
     * flow ({@link #toBinding}) is the device's; another inbound connection from that address and
     * port may be another account's phone ({@link TransportLayer#tcpFlowTo}).
     * <p>
     * Not for a binding registered with {@code reg-id} (RFC 5626 outbound): such a device is
     * reached over its flow or not at all (§5.3: a proxy must not open a new connection to it),
     * nor for bindings registered over UDP or WebSocket (a browser listens for nothing, RFC 7118
     * §5), nor for Contacts with another transport than the one registered over.
     * <p>
     * The connection opened is found again for later requests while it stays open (by the
     * transport layer, per peer), and a request forwarded over it carries it in its Record-Route
     * ({@link #token}), so the dialog's in-dialog requests take it too. The stage fails with a
     * {@link io.switchboard.sip.transport.TransportFailure}, which to the caller means the device
     * is unreachable, as one without a flow is.
     */
    public Optional<java.util.concurrent.CompletionStage<SipFlow>> reconnect(Binding binding) {
        boolean tls = "TLS".equalsIgnoreCase(binding.transport());
        if (!tls && !"TCP".equalsIgnoreCase(binding.transport())) {
            return Optional.empty();
        }
        io.switchboard.sip.message.SipUri uri;
        try {
            uri = io.switchboard.sip.message.SipUri.parse(binding.contact());
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
        String transportParam = uri.param("transport");
        if (uri.host() == null) {
            return Optional.empty();
        }
        if (tls) {
            if (!(uri.scheme().equals("sips") || "tls".equalsIgnoreCase(transportParam))) {
                return Optional.empty();
            }
            if (transportParam != null && !"tls".equalsIgnoreCase(transportParam)) {
                return Optional.empty(); // sips: with transport=ws/wss/tcp/udp: not a TLS listener to connect to
            }
        } else if (!uri.scheme().equals("sip") || !"tcp".equalsIgnoreCase(transportParam)) {
            return Optional.empty(); // UDP (no transport parameter), another transport, or sips: (TLS only)
        }
        if (hasRegId(binding.contactHeader())) {
            return Optional.empty();
        }
        byte[] source = binding.remoteAddress() == null ? null
                : io.netty.util.NetUtil.createByteArrayFromIpAddressString(stripBrackets(binding.remoteAddress()));
        if (source == null) {
            return Optional.empty();
        }
        String host = stripBrackets(uri.hostAddress());
        byte[] literal = io.netty.util.NetUtil.createByteArrayFromIpAddressString(host);
        InetAddress sourceAddress;
        try {
            sourceAddress = InetAddress.getByAddress(source);
            if (literal == null ? !tls : !InetAddress.getByAddress(literal).equals(sourceAddress)) {
                // the Contact names another host than the one that registered, or (TCP) a name
                return Optional.empty();
            }
        } catch (java.net.UnknownHostException e) {
            return Optional.empty();
        }
        // no port in the Contact: the default of its transport (§19.1.2); an explicit 0 is no port
        int port = uri.port() < 0 ? tls ? 5061 : 5060 : uri.port();
        if (port <= 0 || port > 65535) {
            return Optional.empty();
        }
        InetSocketAddress remote = new InetSocketAddress(sourceAddress, port);
        if (!tls && (binding.version() >= startedAtMillis || refusedTcpTarget(remote))) {
            // refreshed by this process (its connection closed while the node ran), or an address
            // the node must not connect to: unreachable until it registers again
            return Optional.empty();
        }
        return Optional.of(tls ? transport.tlsFlowTo(remote, host) : transport.tcpFlowTo(remote));
    }

    /** True when a TCP device must not be connected to at {@code remote} (see {@link #reconnect}). */
    boolean refusedTcpTarget(InetSocketAddress remote) {
        InetAddress address = remote.getAddress();
        int port = remote.getPort();
        if (address == null || port < 1024 || port > 65535 || address.isAnyLocalAddress()
                || address.isMulticastAddress() || address.isLinkLocalAddress()) {
            return true; // isLinkLocalAddress: 169.254/16 and fe80::/10
        }
        boolean loopbackOnly = true;
        for (ListenPoint point : transport.listenPoints()) {
            // a listener given by name (tcp:sip.example.org:5060) listens on an address of this
            // host whatever the name resolves to: compared as such, without asking DNS per call
            InetAddress bound = literal(point.host());
            boolean loopbackListener = bound != null ? bound.isLoopbackAddress() : "localhost".equalsIgnoreCase(point.host());
            if (!loopbackListener) {
                loopbackOnly = false;
            }
            if (point.port() == port && (bound == null || bound.isAnyLocalAddress() ? isThisHost(address) : bound.equals(address))) {
                return true; // one of this node's own SIP listeners
            }
        }
        if (otherListeningPorts.test(port) && isThisHost(address)) {
            return true;
        }
        if (address.isLoopbackAddress() && !loopbackOnly) {
            return true;
        }
        return neverConnectTo.test(address);
    }

    private boolean isThisHost(InetAddress address) {
        return address.isLoopbackAddress() || localAddresses.holds(address);
    }

    private static String stripBrackets(String host) {
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    private static boolean hasRegId(String contactHeader) {
        if (contactHeader == null) {
            return false;
        }
        try {
            return io.switchboard.sip.message.NameAddress.parse(contactHeader).param("reg-id") != null;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** An open flow by id: a TCP or WebSocket connection, or a UDP peer. */
    public Optional<SipFlow> open(String flowId) {
        if (flowId == null) {
            return Optional.empty();
        }
        if (flowId.startsWith("udp:")) {
            int gt = flowId.indexOf('>');
            int colon = flowId.lastIndexOf(':');
            if (gt < 0 || colon <= gt) {
                return Optional.empty();
            }
            try {
                String host = flowId.substring(gt + 1, colon);
                int port = Integer.parseInt(flowId.substring(colon + 1));
                Optional<SipFlow> fromLocal = udpFromLocal(flowId.substring(4, gt), host, port);
                return fromLocal.isPresent() ? fromLocal : udp(host, port);
            } catch (NumberFormatException e) {
                return Optional.empty();
            }
        }
        Optional<SipFlow> flow = flowId.startsWith("ws") ? webSocketFlows.apply(flowId) : transport.flow(flowId);
        return flow.filter(SipFlow::isOpen);
    }

    /**
     * From the UDP socket a flow id names: {@code udp:5060>198.51.100.7:4022} names the port the
     * device sent to, and a hop for a device registered to a specific address names that too
     * ({@code udp:10.0.0.100:5060>...}, see {@link #hopFlowId}). With only the port, of several
     * sockets on it, one whose address this host holds (a floating address rather than the node's
     * own, which is also held) is taken; with the address, exactly that socket.
     */
    private Optional<SipFlow> udpFromLocal(String localPart, String host, int port) {
        InetAddress remote = literal(host);
        if (remote == null || port <= 0 || port > 65535) {
            return Optional.empty();
        }
        int colon = localPart.lastIndexOf(':');
        int local;
        try {
            local = Integer.parseInt(localPart.substring(colon + 1));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
        if (colon > 0) {
            String address = localPart.substring(0, colon);
            if (address.startsWith("[") && address.endsWith("]")) {
                address = address.substring(1, address.length() - 1);
            }
            InetAddress named = literal(address);
            return named == null ? Optional.empty()
                    : transport.udpFlowFrom(new InetSocketAddress(named, local), new InetSocketAddress(remote, port));
        }
        InetSocketAddress chosen = null;
        for (ListenPoint point : transport.listenPoints()) {
            InetAddress address = point.transport() == Transport.UDP && point.port() == local ? literal(point.host()) : null;
            if (address == null) {
                continue;
            }
            if (chosen == null || (!address.isAnyLocalAddress() && localAddresses.holds(address))) {
                chosen = new InetSocketAddress(address, local);
            }
        }
        return chosen == null ? Optional.empty() : transport.udpFlowFrom(chosen, new InetSocketAddress(remote, port));
    }

    /**
     * The flow id a node-to-node hop carries for a binding: its own, and for a device registered
     * over UDP to a specific address, one that names that address as well
     * ({@code udp:10.0.0.100:5060>198.51.100.7:4022}), so the node sending it uses that socket even
     * when it listens on the same port of its own address. Nodes of an older version read only the
     * part after {@code >} and take a socket by port.
     */
    public static String hopFlowId(Binding binding) {
        String id = binding.flowId();
        InetAddress local = specificUdpAddress(binding);
        if (id == null || local == null || !id.startsWith("udp:") || id.indexOf('>') < 0 || binding.localPort() <= 0) {
            return id;
        }
        return "udp:" + hostPart(local) + ":" + binding.localPort() + id.substring(id.indexOf('>'));
    }

    /** A UDP flow to an address literal, from one of our UDP sockets. */
    public Optional<SipFlow> udp(String host, int port) {
        InetAddress address = literal(host);
        if (address == null || port <= 0 || port > 65535) {
            return Optional.empty();
        }
        try {
            return Optional.ofNullable(transport.flowTo(Transport.UDP, new InetSocketAddress(address, port))
                    .toCompletableFuture().getNow(null));
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    /** A flow id as a URI parameter value (token characters only, RFC 3261 §25.1). */
    public static String token(SipFlow flow) {
        return token(flow.id());
    }

    /** A flow id (of this node or of another node of the cluster) as a token. */
    public static String token(String flowId) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(flowId.getBytes(StandardCharsets.UTF_8));
    }

    /** The flow id in a token, or null when it is not one of ours. */
    public static String fromToken(String token) {
        if (token == null || token.isEmpty() || token.length() > 256) {
            return null;
        }
        try {
            return new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
