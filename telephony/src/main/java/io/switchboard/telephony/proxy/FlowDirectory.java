package io.switchboard.telephony.proxy;

import io.switchboard.sip.transport.SipFlow;
import io.switchboard.sip.transport.Transport;
import io.switchboard.sip.transport.TransportLayer;
import io.switchboard.telephony.registrar.Binding;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;
import java.util.function.Function;

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

    public FlowDirectory(TransportLayer transport, Function<String, Optional<SipFlow>> webSocketFlows) {
        this(transport, webSocketFlows, new LocalAddresses());
    }

    /** With the check of this host's addresses given (tests move a "floating" address by hand). */
    FlowDirectory(TransportLayer transport, Function<String, Optional<SipFlow>> webSocketFlows,
                  LocalAddresses localAddresses) {
        this.transport = transport;
        this.webSocketFlows = webSocketFlows;
        this.localAddresses = localAddresses;
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
            Optional<SipFlow> fromRegistered = udpFromRegisteredSocket(binding);
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
        if (!"UDP".equalsIgnoreCase(binding.transport())) {
            return Optional.empty();
        }
        InetAddress local = literal(binding.localAddress());
        if (local == null || local.isAnyLocalAddress() || !localAddresses.holds(local)) {
            return Optional.empty();
        }
        return udpFromRegisteredSocket(binding);
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
     * A new TLS connection to a registered device whose own connection is gone, when it registered
     * over TLS and its Contact asks for TLS ({@code sips:}, RFC 5630, or {@code transport=tls}):
     * RFC 3261 §18.1.1 and §26.2 (a request to a SIPS or TLS URI is sent over TLS, connecting when
     * no connection is open; the port defaults to 5061, §19.1.2).
     * <p>
     * Where to: the address the device registered <em>from</em> (its source address, which the
     * handshake of its registration proved it holds) and the Contact's port. The Contact's host is
     * only the name its certificate must carry (RFC 5922 §7; an address literal against its IP
     * names) and is never looked up: a Contact is whatever the device wrote, and if the node
     * dialled it, any registered account could make the node open TLS connections to any host and
     * port (a relay into internal networks, or to a trunk to place calls as the node). So a Contact
     * whose host is an address literal other than the source address is not connected to at all.
     * <p>
     * Not for a binding registered with {@code reg-id} (RFC 5626 outbound): such a device is
     * reached over its flow or not at all (§5.3: a proxy must not open a new connection to it),
     * nor for bindings registered over anything but TLS, nor for Contacts with another transport
     * (WebSocket, TCP, UDP), which the node does not connect to again.
     */
    public Optional<java.util.concurrent.CompletionStage<SipFlow>> reconnectTls(Binding binding) {
        if (!"TLS".equalsIgnoreCase(binding.transport())) {
            return Optional.empty();
        }
        io.switchboard.sip.message.SipUri uri;
        try {
            uri = io.switchboard.sip.message.SipUri.parse(binding.contact());
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
        String transportParam = uri.param("transport");
        if (uri.host() == null || !(uri.scheme().equals("sips") || "tls".equalsIgnoreCase(transportParam))) {
            return Optional.empty();
        }
        if (transportParam != null && !"tls".equalsIgnoreCase(transportParam)) {
            return Optional.empty(); // sips: with transport=ws/wss/tcp/udp: not a TLS listener to connect to
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
            if (literal != null && !InetAddress.getByAddress(literal).equals(sourceAddress)) {
                return Optional.empty(); // the Contact names another host than the one that registered
            }
        } catch (java.net.UnknownHostException e) {
            return Optional.empty();
        }
        int port = uri.port() > 0 ? uri.port() : 5061;
        if (port > 65535) {
            return Optional.empty();
        }
        return Optional.of(transport.tlsFlowTo(new InetSocketAddress(sourceAddress, port), host));
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
                return udp(flowId.substring(gt + 1, colon), Integer.parseInt(flowId.substring(colon + 1)));
            } catch (NumberFormatException e) {
                return Optional.empty();
            }
        }
        Optional<SipFlow> flow = flowId.startsWith("ws") ? webSocketFlows.apply(flowId) : transport.flow(flowId);
        return flow.filter(SipFlow::isOpen);
    }

    /** A UDP flow to an address literal, from one of our UDP sockets. */
    public Optional<SipFlow> udp(String host, int port) {
        byte[] literal = io.netty.util.NetUtil.createByteArrayFromIpAddressString(host);
        if (literal == null || port <= 0 || port > 65535) {
            return Optional.empty();
        }
        try {
            InetSocketAddress remote = new InetSocketAddress(InetAddress.getByAddress(literal), port);
            return Optional.of(transport.flowTo(Transport.UDP, remote).toCompletableFuture().getNow(null));
        } catch (java.net.UnknownHostException | RuntimeException e) {
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
