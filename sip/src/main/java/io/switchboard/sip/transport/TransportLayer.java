package io.switchboard.sip.transport;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.AttributeKey;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.switchboard.sip.codec.SipParseException;
import io.switchboard.sip.codec.SipParser;
import io.switchboard.sip.codec.SipPeek;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.message.Via;
import io.switchboard.sip.message.HeaderNames;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The SIP transport layer (RFC 3261 §18) on Netty: binds UDP and TCP listeners, turns bytes into
 * messages and back, stamps received/rport on incoming requests (RFC 3261 §18.2.1, RFC 3581 §4),
 * sends responses where §18.2.2 says, and keeps a registry of open connections so requests can go
 * back over a device's own connection.
 * <p>
 * Threads: one event loop group does all I/O. On Linux each UDP listener is bound once per event
 * loop with SO_REUSEPORT, so the kernel spreads datagrams from many peers across cores. But the
 * kernel spreads by peer address, and a busy peer (an SBC, a trunk, a load generator) would load
 * one core only; so an event loop only reads a datagram and peeks at its Call-ID, and
 * {@link InboundLanes} — one thread per lane, a lane per Call-ID hash — parse and handle it: the
 * messages of one call in the order they arrived, different calls in parallel. Messages on a
 * connection are handled on its event loop, in order. The {@link InboundHandler} must not block in
 * either case.
 * <p>
 * Protection: per-source rate limit on datagrams and new connections, limits on message size,
 * connection count (total and per address), unfinished-message time (slow peers) and idle time.
 * Every drop is reported to the {@link SipStackObserver}.
 */
public final class TransportLayer {
    private static final Logger log = LoggerFactory.getLogger(TransportLayer.class);
    /** Warnings about a balancer's connection without its PROXY header. */
    private final OncePerMinute proxyHeaderWarning = new OncePerMinute();
    private static final AttributeKey<StreamFlow> FLOW = AttributeKey.valueOf("sip.flow");
    private static final long SWEEP_INTERVAL_MS = 1000;

    private final TransportSettings settings;
    private final SipStackObserver observer;
    private final boolean epoll;
    private final SourceRateLimiter rateLimiter;
    private final ConcurrentHashMap<String, StreamFlow> streamFlows = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<InetSocketAddress, StreamFlow> flowsByRemote = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<InetAddress, AtomicInteger> connectionsPerAddress = new ConcurrentHashMap<>();
    private final AtomicInteger connections = new AtomicInteger();
    private final List<Channel> udpChannels = new ArrayList<>();
    private final List<Channel> serverChannels = new ArrayList<>();
    private final List<ListenPoint> bound = new ArrayList<>();
    private volatile InboundHandler handler = (m, f) -> {
    };
    /** What TLS listeners put in front of a connection; null when the node has no certificate. */
    private volatile TlsPipeline tls;
    /** What outgoing TLS connections put in front; null when the node opens none. */
    private volatile TlsConnector tlsClient;
    /**
     * Outgoing TLS connections (RFC 3261 §26.2), by the name their certificate was checked for and
     * the address: reused for later requests, failures remembered for {@link #TLS_FAILURE_MEMORY},
     * at most {@link #DEFAULT_MAX_PENDING_TLS_CONNECTS} being opened at once unless set otherwise.
     */
    private final OutboundConnects tlsOut;
    static final java.time.Duration TLS_FAILURE_MEMORY = java.time.Duration.ofSeconds(5);
    public static final int DEFAULT_MAX_PENDING_TLS_CONNECTS = 64;
    /**
     * Outgoing TCP connections to devices ({@link #tcpFlowTo}), by address and port: the same
     * limits as outgoing TLS. A failure is remembered longer: such a device is mostly one that is
     * offline (many put a port they do not listen on in their Contact), and one that comes back
     * registers again over a connection of its own, which needs no connection from the node.
     */
    private final OutboundConnects tcpOut;
    static final java.time.Duration TCP_FAILURE_MEMORY = java.time.Duration.ofSeconds(30);
    public static final int DEFAULT_MAX_PENDING_TCP_CONNECTS = 64;
    /** TCP connects to devices under way at once to one address: beyond it a request waits for a place, within its deadline ("busy_host" if it gets none). */
    public static final int MAX_PENDING_TCP_CONNECTS_PER_HOST = 4;
    /**
     * How long a TCP connect to a device may take unless set ({@link #setOutgoingTcp}): short, since
     * the branch waits for it before its own response timeout starts; a device on a network that
     * answers at all accepts or refuses within milliseconds.
     */
    public static final java.time.Duration DEFAULT_TCP_CONNECT_TIMEOUT = java.time.Duration.ofSeconds(2);
    private volatile int tcpConnectTimeoutMillis = (int) DEFAULT_TCP_CONNECT_TIMEOUT.toMillis();
    /** What a name lookup may take at most, for the overall deadline of a connection being opened. */
    private static final long RESOLVE_ALLOWANCE_MILLIS = 5_000;

    /** Host names of TLS targets are resolved here: the JDK resolver blocks, and an event loop must not. */
    private static final java.util.concurrent.Executor RESOLVER =
            java.util.concurrent.Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("sip-resolve-", 0).factory());
    /** Peers whose connections must begin with a PROXY protocol header ({@link ProxyProtocolGate}). */
    private volatile java.util.function.Predicate<InetAddress> proxyProtocolFrom = address -> false;
    /** Sources the flood limit does not apply to (the other nodes of a cluster). */
    private volatile java.util.function.Predicate<InetAddress> floodExempt = address -> false;
    static final long PROXY_HEADER_TIMEOUT_MILLIS = 3_000;
    private EventLoopGroup group;
    private volatile InboundLanes lanes;
    private ScheduledFuture<?> sweeper;

    public TransportLayer(TransportSettings settings, SipStackObserver observer) {
        this.settings = settings;
        this.observer = observer;
        this.epoll = Epoll.isAvailable();
        this.rateLimiter = settings.floodLimitPerSecond() > 0
                ? new SourceRateLimiter(settings.floodLimitPerSecond(), settings.floodBurst(), 100_000) : null;
        // TLS: no cap per host (a trunk or a peer named by a route may take several at once)
        this.tlsOut = new OutboundConnects("TLS", TLS_FAILURE_MEMORY, DEFAULT_MAX_PENDING_TLS_CONNECTS, 0,
                observer::tlsConnect, "switchboard_sip_tls_connects_total", true);
        // a device that is offline is no setting to fix: its failures are counted, not warned about;
        // one host's devices (one account's, mostly) cannot take every place
        this.tcpOut = new OutboundConnects("TCP", TCP_FAILURE_MEMORY, DEFAULT_MAX_PENDING_TCP_CONNECTS,
                MAX_PENDING_TCP_CONNECTS_PER_HOST, observer::tcpConnect, "switchboard_sip_tcp_connects_total", false);
    }

    public void setInboundHandler(InboundHandler handler) {
        this.handler = handler;
    }

    /** Enables {@link Transport#TLS} listeners (RFC 3261 §26.2); set before {@link #start}. */
    public void setTls(TlsPipeline tls) {
        this.tls = tls;
    }

    /**
     * Connections accepted from these peers (load balancers) must begin with a PROXY protocol v1 or
     * v2 header, whose client address then stands for the connection everywhere (received/rport,
     * flows, limits, logs); others are served as before. Set before {@link #start}.
     */
    public void setProxyProtocolSources(java.util.function.Predicate<InetAddress> sources) {
        this.proxyProtocolFrom = sources;
    }

    /** Sources the flood limit ({@link TransportSettings#floodLimitPerSecond}) does not apply to; asked per message. */
    public void setFloodExempt(java.util.function.Predicate<InetAddress> exempt) {
        this.floodExempt = exempt;
    }

    /** Enables outgoing TLS connections ({@link #tlsFlowTo}); set before {@link #start}. */
    public void setTlsClient(TlsConnector client) {
        this.tlsClient = client;
    }

    /**
     * Enables outgoing TLS connections with at most {@code maxPending} of them being opened at once
     * (connect and handshake); set before {@link #start}.
     */
    public void setTlsClient(TlsConnector client, int maxPending) {
        if (maxPending < 1) {
            throw new IllegalArgumentException("maxPending must be at least 1: " + maxPending);
        }
        tlsOut.setMaxPending(maxPending);
        this.tlsClient = client;
    }

    /**
     * Limits of the TCP connections {@link #tcpFlowTo} opens: how long a connect may take (at least
     * 1 ms), and how many may be under way at once over all devices (beyond it a request fails at
     * once, "busy").
     */
    public void setOutgoingTcp(java.time.Duration connectTimeout, int maxPending) {
        tcpOut.setMaxPending(maxPending);
        this.tcpConnectTimeoutMillis = (int) Math.max(1, Math.min(Integer.MAX_VALUE, connectTimeout.toMillis()));
    }

    /** Binds every listen point; on failure nothing stays bound. Returns the bound points (real ports). */
    public synchronized List<ListenPoint> start(List<ListenPoint> points) throws InterruptedException {
        int threads = settings.ioThreads() > 0 ? settings.ioThreads() : Runtime.getRuntime().availableProcessors();
        IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        group = new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("sip-io", true), io);
        int laneCount = settings.workerThreads() > 0 ? settings.workerThreads()
                : Runtime.getRuntime().availableProcessors();
        lanes = new InboundLanes(laneCount, Math.max(1, settings.workerQueue() / laneCount), "sip-lane");
        try {
            for (ListenPoint point : points) {
                switch (point.transport()) {
                    case UDP -> bindUdp(point, threads);
                    case TCP, TLS -> bindTcp(point);
                    default -> throw new IllegalArgumentException(
                            point.transport() + " listeners are not served by the SIP transport layer: " + point);
                }
            }
        } catch (RuntimeException | InterruptedException e) {
            stop();
            throw e;
        }
        sweeper = group.next().scheduleAtFixedRate(this::sweep, SWEEP_INTERVAL_MS, SWEEP_INTERVAL_MS,
                TimeUnit.MILLISECONDS);
        return List.copyOf(bound);
    }

    private void bindUdp(ListenPoint point, int threads) throws InterruptedException {
        InetSocketAddress address = new InetSocketAddress(point.host(), point.port());
        Bootstrap bootstrap = new Bootstrap().group(group)
                .channel(epoll ? EpollDatagramChannel.class : NioDatagramChannel.class)
                .option(ChannelOption.SO_RCVBUF, settings.udpReceiveBuffer())
                .option(ChannelOption.SO_SNDBUF, settings.udpReceiveBuffer())
                .option(ChannelOption.RECVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(65_536))
                .handler(new DatagramHandler());
        int copies = 1;
        if (epoll) {
            if (point.port() != 0) {
                refuseIfTaken(address);
            }
            bootstrap.option(EpollChannelOption.SO_REUSEPORT, true);
            copies = threads;
        }
        Channel first = bound(bootstrap.bind(address), point);
        udpChannels.add(first);
        int port = ((InetSocketAddress) first.localAddress()).getPort();
        for (int i = 1; i < copies; i++) {
            udpChannels.add(bound(bootstrap.bind(new InetSocketAddress(point.host(), port)), point));
        }
        bound.add(new ListenPoint(Transport.UDP, point.host(), port));
    }

    /**
     * SO_REUSEPORT lets any process of the same user bind the port too, and the kernel would then
     * split the devices' datagrams between the two (a second node started by mistake would take
     * half of every phone's traffic). So the port is first bound plainly, once, to learn whether
     * someone has it.
     */
    private static void refuseIfTaken(InetSocketAddress address) {
        try (java.net.DatagramSocket probe = new java.net.DatagramSocket(null)) {
            probe.setReuseAddress(false);
            probe.bind(address);
        } catch (java.net.SocketException e) {
            throw new IllegalStateException("udp " + address.getHostString() + ":" + address.getPort()
                    + " is already in use (" + e.getMessage() + ")", e);
        }
    }

    /**
     * The channel a bind made, or an exception naming the listener: Netty's own says only
     * "bind(..) failed with error(-98): Address already in use", and a node with several listeners
     * would not say which one could not listen.
     */
    private static Channel bound(io.netty.channel.ChannelFuture bind, ListenPoint point) throws InterruptedException {
        bind.await();
        if (bind.isSuccess()) {
            return bind.channel();
        }
        Throwable cause = bind.cause();
        String reason = words(cause);
        throw new IllegalStateException(point + " cannot listen: " + reason
                + (reason.contains("in use") ? " (another process, or another listener of this node, has that port)" : ""),
                cause);
    }

    private void bindTcp(ListenPoint point) throws InterruptedException {
        if (point.transport() == Transport.TLS && tls == null) {
            throw new IllegalArgumentException("a TLS listener needs a certificate: " + point);
        }
        ServerBootstrap bootstrap = new ServerBootstrap().group(group)
                .channel(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new StreamInitializer(point.transport()));
        Channel channel = bound(bootstrap.bind(new InetSocketAddress(point.host(), point.port())), point);
        serverChannels.add(channel);
        bound.add(new ListenPoint(point.transport(), point.host(), ((InetSocketAddress) channel.localAddress()).getPort()));
    }

    public synchronized void stop() {
        if (sweeper != null) {
            sweeper.cancel(false);
        }
        for (Channel c : serverChannels) {
            c.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        }
        for (Channel c : udpChannels) {
            c.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        }
        for (StreamFlow flow : streamFlows.values()) {
            flow.channel().close();
        }
        if (lanes != null) {
            lanes.stop(2000);
            lanes = null;
        }
        if (group != null) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
            group = null;
        }
        serverChannels.clear();
        udpChannels.clear();
        bound.clear();
    }

    public synchronized List<ListenPoint> listenPoints() {
        return List.copyOf(bound);
    }

    public boolean isRunning() {
        return group != null && (!udpChannels.isEmpty() || !serverChannels.isEmpty());
    }

    public int openConnections() {
        return connections.get();
    }

    /**
     * The SIP lane threads, for work a transaction user finishes later (say, once a database
     * commit completes), so it does not pile up on the thread that completed it. Such work keeps no
     * order with a call's messages (the lane of the call may already be further on), so it goes to
     * the lanes in turn.
     */
    public java.util.concurrent.Executor executor() {
        return task -> {
            InboundLanes current = lanes;
            if (current == null || !current.offerAny(task)) {
                task.run(); // finishing accepted work matters more than where it runs
            }
        };
    }

    /**
     * Where to continue work for a message that came over {@code flow} once something it waited
     * for is done (a registration's commit): a TCP or TLS connection's own event loop, which handles
     * that connection's messages anyway, so the answer is written there at once, leaves in order with
     * the connection's other answers, and wakes no other thread; for other flows, {@link #executor()}.
     */
    public java.util.concurrent.Executor executor(SipFlow flow) {
        if (flow instanceof StreamFlow stream) {
            io.netty.channel.EventLoop loop = stream.channel().eventLoop();
            return task -> {
                try {
                    loop.execute(task);
                } catch (java.util.concurrent.RejectedExecutionException stopping) {
                    task.run(); // as executor(): the work was accepted; its write then fails on the closed connection
                }
            };
        }
        return executor();
    }

    /**
     * The lane of one call (the lane its messages are handled on, chosen by the hash of its
     * Call-ID): work for a call run here keeps the order it was handed over in, and with the
     * call's messages. Used for requests that waited for a connection to be opened.
     */
    public java.util.concurrent.Executor executor(String callId) {
        long key = callId == null ? SipPeek.NO_CALL_ID : SipPeek.callIdHash(callId);
        if (key == SipPeek.NO_CALL_ID) {
            return executor();
        }
        return task -> {
            InboundLanes current = lanes;
            if (current == null || !current.offer(key, task)) {
                task.run();
            }
        };
    }


    public Optional<SipFlow> flow(String id) {
        return Optional.ofNullable(streamFlows.get(id));
    }

    /**
     * Parses bytes that arrived on a flow this layer does not own (a WebSocket, RFC 7118) and
     * dispatches them like its own input.
     */
    public void deliver(byte[] data, SipFlow flow) {
        dispatch(data, flow, true);
    }

    /** Sends a message on a flow, reporting it to the observer. */
    public CompletionStage<Void> send(SipMessage message, SipFlow flow) {
        byte[] bytes = message.encode();
        observer.messageSent(message, flow);
        return flow.send(bytes);
    }

    /**
     * A flow to a peer: over UDP, from a listening socket of the address family of the peer; over
     * TCP, the open connection to that address if there is one, else a new connection.
     */
    public CompletionStage<SipFlow> flowTo(Transport transport, InetSocketAddress remote) {
        if (transport == Transport.UDP) {
            Channel channel = udpChannelFor(remote);
            if (channel == null) {
                return CompletableFuture.failedFuture(new IllegalStateException("no UDP listener"));
            }
            return CompletableFuture.completedFuture(new DatagramFlow(channel, remote));
        }
        if (transport == Transport.TLS) {
            // no name given: the certificate must be for the address itself (or the name it was made from)
            return tlsFlowTo(remote, remote.isUnresolved() || remote.getAddress() == null ? remote.getHostString()
                    : NetUtil.toAddressString(remote.getAddress()));
        }
        if (transport != Transport.TCP) {
            return CompletableFuture.failedFuture(new IllegalStateException("cannot open a " + transport + " flow"));
        }
        StreamFlow existing = flowsByRemote.get(remote);
        if (existing != null && existing.isOpen() && existing.transport() == Transport.TCP) {
            return CompletableFuture.completedFuture(existing);
        }
        CompletableFuture<SipFlow> result = new CompletableFuture<>();
        EventLoopGroup io = group;
        if (io == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("transport layer stopped"));
        }
        ChannelFuture connect = new Bootstrap().group(io)
                .channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
                .handler(new StreamInitializer(Transport.TCP))
                .connect(remote);
        connect.addListener(f -> {
            if (f.isSuccess()) {
                StreamFlow flow = connect.channel().attr(FLOW).get();
                result.complete(flow != null ? flow : registerStream(connect.channel(), Transport.TCP));
            } else {
                result.completeExceptionally(f.cause());
            }
        });
        return result;
    }

    /**
     * A new TCP connection to a device at {@code remote} (RFC 3261 §18.1.1: a request to a
     * destination without a connection open opens one), or one this node opened to that address
     * and port earlier and that is still open. Never a connection the peer opened to the node: an
     * inbound connection from that address and port may be another device's (two phones behind
     * one NAT, or a phone that connects out from the port it listens on), and nothing proves who
     * holds it (RFC 5923 keeps connection reuse to TLS, where the certificate does). A connection
     * the node opened reaches whatever listens at that address and port, as a new one would.
     * <p>
     * Limits as for outgoing TLS ({@link OutboundConnects}): one attempt per peer at a time, at most
     * so many under way at once ({@link #setOutgoingTcp}), a peer that failed not dialled again for
     * {@link #TCP_FAILURE_MEMORY}, the connect bounded by the connect timeout. Not counted against
     * the limits on connections from one address, which are for what peers open to the node.
     * The stage completes on an event loop or a timer's thread (callers move on to their own) and
     * fails with a {@link TransportFailure}:
     * {@code connect_refused}, {@code connect_timeout} (a timeout), {@code connect_failed},
     * {@code recent_failure}, {@code busy}, {@code busy_host} (at most
     * {@link #MAX_PENDING_TCP_CONNECTS_PER_HOST} under way to one address, and no place came
     * within the deadline, or too many wait for one), {@code deadline},
     * {@code other} (an unresolved address, among others). Each outcome is
     * reported to {@link SipStackObserver#tcpConnect}.
     */
    public CompletionStage<SipFlow> tcpFlowTo(InetSocketAddress remote) {
        if (remote.isUnresolved() || remote.getAddress() == null) {
            // a device is connected to at an address, never a name (nothing would check it)
            return CompletableFuture.failedFuture(new TransportFailure("other", false,
                    "not an address to connect to: " + remote, null));
        }
        int timeout = tcpConnectTimeoutMillis;
        String key = NetUtil.toAddressString(remote.getAddress()) + "|" + remote.getPort();
        return tcpOut.open(key, remote, timeout + 1_000L, attempt -> connectTcp(remote, timeout, attempt));
    }

    private void connectTcp(InetSocketAddress remote, int timeoutMillis, CompletableFuture<SipFlow> attempt) {
        EventLoopGroup io = group;
        if (io == null) {
            tcpOut.fail(attempt, remote, "other", false, "transport layer stopped", null);
            return;
        }
        ChannelFuture connect = new Bootstrap().group(io)
                .channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, timeoutMillis)
                .handler(new StreamInitializer(Transport.TCP, null, null, 0, true))
                .connect(remote);
        // whichever way it fails (the deadline included), a connection being opened is closed
        attempt.whenComplete((flow, error) -> {
            if (error != null) {
                connect.channel().close();
            }
        });
        connect.addListener(f -> {
            if (!f.isSuccess()) {
                Throwable cause = f.cause();
                boolean timedOut = cause instanceof io.netty.channel.ConnectTimeoutException;
                String reason = timedOut ? "connect_timeout"
                        : cause instanceof java.net.ConnectException ? "connect_refused" : "connect_failed";
                tcpOut.fail(attempt, remote, reason, timedOut, "TCP connect to " + remote + " failed: " + words(cause), cause);
                return;
            }
            Channel channel = connect.channel();
            if (!channel.isActive() || attempt.isDone()) {
                channel.close();
                tcpOut.fail(attempt, remote, "closed", false, "connection to " + remote + " closed", null);
                return;
            }
            StreamFlow flow = registerStream(channel, Transport.TCP);
            if (attempt.complete(flow)) {
                observer.tcpConnect("ok", remote); // counted once: not when the deadline came first
            } else {
                channel.close(); // the deadline passed meanwhile
            }
        });
    }

    /**
     * A TLS connection to {@code remote} whose server certificate is that of {@code serverName}
     * (RFC 3261 §26.2, RFC 5922 §7): an outgoing one opened earlier for the same name and address if
     * it is still open, else a new one. The stage completes, on an event loop, once the handshake
     * has finished and the name has been checked, so nothing is ever written to an unchecked peer;
     * it fails with a {@link TransportFailure} saying why. Never blocks: a host name is resolved
     * on a virtual thread, the connect and the handshake are bounded by the {@link TlsConnector}'s
     * timeouts. The connection then carries SIP both ways like any other (requests the peer sends
     * back on it are handled as if it had opened it).
     *
     * @param remote     where to connect; may be unresolved (a host name, RFC 3263 A/AAAA only)
     * @param serverName the SIP domain or host the certificate must name: the host of the URI
     *                   that led here, not the address it resolved to
     */
    public CompletionStage<SipFlow> tlsFlowTo(InetSocketAddress remote, String serverName) {
        TlsConnector client = tlsClient;
        if (client == null) {
            observer.tlsConnect("not_configured", remote);
            return CompletableFuture.failedFuture(new TransportFailure("not_configured", false,
                    "outgoing TLS connections are not enabled", null));
        }
        String name = serverName.startsWith("[") ? serverName.substring(1, serverName.length() - 1) : serverName;
        String key = tlsKey(name, remote);
        long deadline = client.connectTimeoutMillis() + client.handshakeTimeoutMillis()
                + (remote.isUnresolved() ? RESOLVE_ALLOWANCE_MILLIS : 0) + 1_000;
        return tlsOut.open(key, remote, deadline, fresh -> {
            if (remote.isUnresolved()) {
                RESOLVER.execute(() -> {
                    InetSocketAddress resolved;
                    try {
                        resolved = new InetSocketAddress(InetAddress.getByName(remote.getHostString()), remote.getPort());
                    } catch (java.net.UnknownHostException | SecurityException e) {
                        failTls(fresh, remote, "resolve", false, "cannot resolve " + remote.getHostString(), e);
                        return;
                    }
                    try {
                        connectTls(client, resolved, name, fresh);
                    } catch (RuntimeException e) {
                        failTls(fresh, remote, "other", false, "cannot connect to " + remote + ": " + words(e), e);
                    }
                });
            } else {
                connectTls(client, remote, name, fresh);
            }
        });
    }

    private static String tlsKey(String name, InetSocketAddress remote) {
        return name.toLowerCase(java.util.Locale.ROOT) + "|" + remote.getHostString() + ":" + remote.getPort();
    }

    private void connectTls(TlsConnector client, InetSocketAddress remote, String name, CompletableFuture<SipFlow> result) {
        EventLoopGroup io = group;
        if (io == null) {
            failTls(result, remote, "other", false, "transport layer stopped", null);
            return;
        }
        ChannelFuture connect;
        try {
            connect = new Bootstrap().group(io)
                    .channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, client.connectTimeoutMillis())
                    .handler(new StreamInitializer(Transport.TLS, client, name, remote.getPort()))
                    .connect(remote);
        } catch (RuntimeException e) {
            failTls(result, remote, "other", false, "cannot connect to " + remote + ": " + words(e), e);
            return;
        }
        // whichever way it fails (the deadline included), a connection being opened is closed
        result.whenComplete((flow, error) -> {
            if (error != null) {
                connect.channel().close();
            }
        });
        connect.addListener(f -> {
            try {
                if (!f.isSuccess()) {
                    Throwable cause = f.cause();
                    boolean timedOut = cause instanceof io.netty.channel.ConnectTimeoutException;
                    String reason = timedOut ? "connect_timeout"
                            : cause instanceof java.net.ConnectException ? "connect_refused" : "connect_failed";
                    failTls(result, remote, reason, timedOut, "TLS connect to " + remote + " failed: " + words(cause), cause);
                    return;
                }
                Channel channel = connect.channel();
                io.netty.handler.ssl.SslHandler handler = channel.pipeline().get(io.netty.handler.ssl.SslHandler.class);
                if (handler == null) {
                    failTls(result, remote, "closed", false, "connection to " + remote + " closed", null);
                    return;
                }
                handler.handshakeFuture().addListener(done -> {
                    try {
                        checkServer(handler, channel, remote, name, result, done);
                    } catch (RuntimeException e) {
                        failTls(result, remote, "other", false, "TLS connection to " + remote + " failed: " + words(e), e);
                    }
                });
            } catch (RuntimeException e) {
                failTls(result, remote, "other", false, "TLS connection to " + remote + " failed: " + words(e), e);
            }
        });
    }

    /**
     * After the handshake: the certificate must name {@code name} (RFC 5922 §7.2). Only then is the
     * connection registered as a flow, so no request can be sent on it and nothing it carries is
     * handled before the check ({@link StreamHandler} drops what arrives on an unregistered one).
     */
    private void checkServer(io.netty.handler.ssl.SslHandler handler, Channel channel, InetSocketAddress remote,
                             String name, CompletableFuture<SipFlow> result, io.netty.util.concurrent.Future<?> done) {
        if (!done.isSuccess()) {
            String reason = handshakeFailure(done.cause());
            failTls(result, remote, reason, reason.equals("handshake_timeout"),
                    "TLS handshake with " + remote + " (" + name + ") failed: " + words(done.cause()), done.cause());
            channel.close();
            return;
        }
        java.security.cert.X509Certificate peer;
        try {
            peer = (java.security.cert.X509Certificate) handler.engine().getSession().getPeerCertificates()[0];
        } catch (javax.net.ssl.SSLPeerUnverifiedException | RuntimeException e) {
            channel.close();
            failTls(result, remote, "untrusted", false, remote + " presented no certificate", e);
            return;
        }
        if (!SipDomainIdentity.matches(peer, name)) {
            // RFC 5922 §7.2: a certificate that does not name the domain is refused
            // like an untrusted one; the connection is closed before any SIP goes out
            channel.close();
            failTls(result, remote, "name_mismatch", false, "the certificate of " + remote + " is for "
                    + SipDomainIdentity.identities(peer) + ", not " + name + " (RFC 5922 §7.2)", null);
            return;
        }
        if (!channel.isActive() || result.isDone()) {
            channel.close();
            failTls(result, remote, "closed", false, "connection to " + remote + " closed", null);
            return;
        }
        StreamFlow flow = registerStream(channel, Transport.TLS);
        if (result.complete(flow)) {
            observer.tlsConnect("ok", remote); // counted once: not when the deadline came first
        } else {
            channel.close(); // the deadline passed meanwhile
        }
    }

    private void failTls(CompletableFuture<SipFlow> result, InetSocketAddress remote, String reason, boolean timedOut,
                         String message, Throwable cause) {
        tlsOut.fail(result, remote, reason, timedOut, message, cause);
    }

    /**
     * What went wrong in words: the outermost message that is a failure's own (not a wrapper's
     * copy of its cause), with the root cause's added when it says more ("PKIX path validation
     * failed: validity check failed (NotAfter: ...)"), without the class names and call names of
     * Java's and Netty's native exceptions: "Connection refused", not
     * "AnnotatedConnectException: finishConnect(..) failed with error(-111): Connection refused".
     */
    static String words(Throwable failure) {
        String own = null;
        String root = null;
        boolean closed = false;
        int depth = 0;
        for (Throwable t = failure; t != null && depth++ < 20; t = t.getCause() == t ? null : t.getCause()) {
            closed |= t instanceof java.nio.channels.ClosedChannelException;
            String message = t.getMessage();
            if (message == null || message.isBlank()) {
                continue;
            }
            if (own == null && (t.getCause() == null || !message.equals(t.getCause().toString()))) {
                own = plain(message);
            }
            root = plain(message);
        }
        if (own == null) {
            return closed ? "the connection closed" : failure.getClass().getSimpleName();
        }
        return own.contains(root) ? own : own + " (" + root + ")";
    }

    /** A message without a native call's prefix and without the class names JSSE writes into its messages. */
    private static String plain(String message) {
        java.util.regex.Matcher call = NATIVE_CALL.matcher(message);
        String text = call.find() ? message.substring(call.end()) : message;
        return CLASS_NAME.matcher(text).replaceAll("");
    }

    /** io.netty.channel.unix.Errors: "bind(..) failed with error(-98): Address already in use". */
    private static final java.util.regex.Pattern NATIVE_CALL =
            java.util.regex.Pattern.compile("^\\w+\\(\\.\\.\\) failed(?: with error\\(-?\\d+\\))?: ");
    /** "java.security.cert.CertPathValidatorException: " inside a JDK message. */
    private static final java.util.regex.Pattern CLASS_NAME =
            java.util.regex.Pattern.compile("\\b(?:[a-z_][a-z0-9_]*\\.)+[A-Z]\\w*(?:Exception|Error)(?:\\$\\w+)?: ");

    /** The reason tag of a failed client handshake, from the JDK's messages (JSSE has no error codes). */
    static String handshakeFailure(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof io.netty.handler.ssl.SslHandshakeTimeoutException) {
                return "handshake_timeout";
            }
            if (t instanceof java.security.cert.CertPathValidatorException
                    || t instanceof java.security.cert.CertificateExpiredException
                    || t instanceof java.security.cert.CertificateNotYetValidException
                    || t instanceof java.security.cert.CertPathBuilderException) {
                return "untrusted";
            }
        }
        for (Throwable t = failure; t != null; t = t.getCause()) {
            String message = t.getMessage() == null ? "" : t.getMessage().toLowerCase(java.util.Locale.ROOT);
            if (message.contains("pkix") || message.contains("certification path") || message.contains("certificate expired")
                    || message.contains("validity check failed")) {
                return "untrusted";
            }
            if (message.contains("received fatal alert")) {
                return message.contains("protocol_version") ? "protocol" : "refused_by_peer";
            }
            if (message.contains("protocol version") || message.contains("no appropriate protocol")) {
                return "protocol";
            }
            if (t instanceof java.nio.channels.ClosedChannelException || t instanceof java.io.EOFException
                    || message.contains("closed")) {
                return "closed";
            }
        }
        return "other";
    }

    /**
     * A UDP flow to {@code remote} from the listening socket bound to exactly {@code local}
     * (address and port), or empty when no socket is: a device behind NAT expects its requests
     * from the address and port it registered to, and a node may listen on more than one.
     */
    public java.util.Optional<SipFlow> udpFlowFrom(InetSocketAddress local, InetSocketAddress remote) {
        List<Channel> channels = udpChannels;
        if (channels.isEmpty()) {
            return java.util.Optional.empty();
        }
        // the listener has a socket per event loop (SO_REUSEPORT): spread by lane, as udpChannelFor does
        int lane = InboundLanes.currentLane();
        int start = (int) ((lane >= 0 ? lane : Thread.currentThread().threadId()) % channels.size());
        for (int i = 0; i < channels.size(); i++) {
            Channel c = channels.get((start + i) % channels.size());
            if (local.equals(c.localAddress())) {
                return java.util.Optional.of(new DatagramFlow(c, remote));
            }
        }
        return java.util.Optional.empty();
    }

    private Channel udpChannelFor(InetSocketAddress remote) {
        List<Channel> channels = udpChannels;
        if (channels.isEmpty()) {
            return null;
        }
        boolean v6 = remote.getAddress() instanceof java.net.Inet6Address;
        Channel fallback = null;
        // A lane always writes through the same socket, so what it sends for a call leaves in the
        // order it was sent (each socket's writes are queued on its own event loop); other threads
        // (timers, database callbacks) spread by thread.
        int lane = InboundLanes.currentLane();
        int start = (int) ((lane >= 0 ? lane : Thread.currentThread().threadId()) % channels.size());
        for (int i = 0; i < channels.size(); i++) {
            Channel c = channels.get((start + i) % channels.size());
            InetAddress local = ((InetSocketAddress) c.localAddress()).getAddress();
            boolean localV6 = local instanceof java.net.Inet6Address;
            if (localV6 == v6) {
                return c;
            }
            if (localV6 && local.isAnyLocalAddress()) {
                fallback = c; // a dual-stack [::] socket reaches IPv4 peers too
            }
        }
        return fallback != null ? fallback : channels.get(0);
    }

    /**
     * Sends a response where RFC 3261 §18.2.2 and RFC 3581 §4 say: back on the connection for a
     * reliable transport (or a new connection to the Via's received/sent-by if it closed); for UDP,
     * to the received address and rport from the top Via, from the socket the request came in on,
     * so the answer passes back through the device's NAT binding.
     */
    public CompletionStage<Void> sendResponse(SipResponse response, SipFlow requestFlow) {
        SipFlow flow = responseFlow(response, requestFlow);
        if (flow != null) {
            return send(response, flow);
        }
        if (requestFlow instanceof StreamFlow stream && stream.isRetired()) {
            // a request framed just before its connection lost framing (pipelined in the same
            // read): its peer is being disconnected for what it sent next, and a new connection
            // towards it (§18.2.2) would go to an address behind NAT or fail its certificate check
            return CompletableFuture.failedFuture(new java.nio.channels.ClosedChannelException());
        }
        if (requestFlow.transport().isReliable()) {
            if (requestFlow.transport() == Transport.TLS) {
                // §18.2.2 for TLS: a new connection to the received address and the port in sent-by
                // (5061 by default), whose certificate must name that address (RFC 5922 has no name
                // to check here); rarely possible with phones, but nothing is sent unchecked
                InetSocketAddress target = responseTarget(response, requestFlow, 5061, false);
                if (target == null || target.getAddress() == null) {
                    return CompletableFuture.failedFuture(new java.nio.channels.ClosedChannelException());
                }
                return tlsFlowTo(target, NetUtil.toAddressString(target.getAddress()))
                        .thenCompose(newFlow -> send(response, newFlow));
            }
            if (requestFlow.transport() != Transport.TCP) {
                return CompletableFuture.failedFuture(new java.nio.channels.ClosedChannelException());
            }
            // §18.2.2: connect to the received address and the port in sent-by (5060 by default)
            InetSocketAddress target = responseTarget(response, requestFlow, 5060, false);
            return flowTo(Transport.TCP, target).thenCompose(newFlow -> send(response, newFlow));
        }
        return send(response, requestFlow);
    }

    /**
     * The flow a response to a request that arrived on {@code requestFlow} goes out on, or null when
     * the request's connection has closed and a new one must be opened ({@link #sendResponse} does).
     */
    public SipFlow responseFlow(SipResponse response, SipFlow requestFlow) {
        if (requestFlow.transport().isReliable()) {
            return requestFlow.isOpen() ? requestFlow : null;
        }
        InetSocketAddress target = responseTarget(response, requestFlow, 5060, true);
        return requestFlow instanceof DatagramFlow datagram && !target.equals(requestFlow.remote())
                ? new DatagramFlow(datagram.channel(), target) : requestFlow;
    }

    /**
     * A flow on the same UDP socket as {@code flow} to {@code remote}: where a stored response goes
     * again when the request is retransmitted (RFC 3261 §17.2.2). Any other flow is returned as it is.
     */
    public SipFlow datagramFlow(SipFlow flow, InetSocketAddress remote) {
        return flow instanceof DatagramFlow datagram && !remote.equals(flow.remote())
                ? new DatagramFlow(datagram.channel(), remote) : flow;
    }

    /** Reports a message sent by a layer above that encoded it itself. */
    public void reportSent(SipMessage message, SipFlow flow) {
        observer.messageSent(message, flow);
    }

    private static InetSocketAddress responseTarget(SipResponse response, SipFlow flow, int defaultPort,
                                                    boolean useRport) {
        Via via = response.topVia();
        if (via == null) {
            return flow.remote();
        }
        String host = via.param("received");
        if (host == null || host.isEmpty()) {
            host = via.host();
        }
        if (host.startsWith("[")) {
            host = host.substring(1, host.length() - 1);
        }
        int port = via.port() >= 0 ? via.port() : defaultPort;
        String rport = via.param("rport");
        if (useRport && rport != null && !rport.isEmpty()) {
            try {
                port = Integer.parseInt(rport);
            } catch (NumberFormatException e) {
                return flow.remote();
            }
        }
        byte[] literal = NetUtil.createByteArrayFromIpAddressString(host);
        if (literal == null) {
            return flow.remote(); // a name we would have to resolve: the peer's source address is as good
        }
        try {
            return new InetSocketAddress(InetAddress.getByAddress(literal), port);
        } catch (java.net.UnknownHostException e) {
            return flow.remote();
        }
    }

    private void dispatch(byte[] data, SipFlow flow, boolean datagram) {
        SipMessage message;
        try {
            message = SipParser.parse(data, 0, data.length, datagram);
        } catch (SipParseException e) {
            SipResponse answer = e.errorResponse();
            // the log line says what was done, as the stream framer's do
            observer.parseError(e.reason() + (answer == null ? ": dropped without an answer"
                    : ": answered " + answer.status()), flow.transport(), flow.remote());
            if (answer != null) {
                // answered to the source address: a broken message's Via cannot be trusted
                send(answer, flow);
            }
            if (log.isDebugEnabled()) {
                log.debug("malformed SIP from {} over {}: {} ({})", flow.remote(), flow.transport(), e.reason(),
                        answer == null ? "dropped without an answer" : "answered " + answer.status());
            }
            return;
        }
        if (message instanceof SipRequest request) {
            stampReceived(request, flow);
        }
        observer.messageReceived(message, flow);
        try {
            handler.onMessage(message, flow);
        } catch (RuntimeException e) {
            log.error("SIP handler failed on {} from {}", message.startLine(), flow.remote(), e);
        }
    }

    /** RFC 3261 §18.2.1 and RFC 3581 §4: record where a request really came from in its top Via. */
    private static void stampReceived(SipRequest request, SipFlow flow) {
        Via top = request.topVia();
        InetSocketAddress source = flow.remote();
        String sourceIp = source.getAddress().getHostAddress();
        int zone = sourceIp.indexOf('%');
        if (zone >= 0) {
            sourceIp = sourceIp.substring(0, zone);
        }
        String rport = top.param("rport");
        Via stamped = top;
        if (rport != null) {
            stamped = stamped.withParam("received", sourceIp).withParam("rport", Integer.toString(source.getPort()));
        } else {
            String viaHost = top.host().startsWith("[") ? top.host().substring(1, top.host().length() - 1) : top.host();
            if (!viaHost.equalsIgnoreCase(sourceIp)) {
                stamped = stamped.withParam("received", sourceIp);
            }
        }
        if (stamped != top) {
            request.replaceTopVia(stamped);
        }
    }

    private void sweep() {
        if (rateLimiter != null) {
            rateLimiter.sweep(TimeUnit.SECONDS.toNanos(30));
        }
        long now = System.nanoTime();
        long partialLimit = settings.partialMessageTimeout().toNanos();
        for (StreamFlow flow : streamFlows.values()) {
            StreamFramer framer = flow.channel().pipeline().get(StreamFramer.class);
            long since = framer == null ? 0 : framer.partialSince();
            if (since != 0 && now - since > partialLimit) {
                observer.dropped("slow_peer", flow.transport(), flow.remote());
                log.debug("closing {}: message unfinished for over {}", flow, settings.partialMessageTimeout());
                flow.channel().close();
            }
        }
    }

    private StreamFlow registerStream(Channel channel, Transport transport) {
        StreamFlow flow = new StreamFlow(channel, transport);
        StreamFlow previous = channel.attr(FLOW).setIfAbsent(flow);
        if (previous != null) {
            return previous;
        }
        streamFlows.put(flow.id(), flow);
        flowsByRemote.put(flow.remote(), flow);
        channel.closeFuture().addListener(f -> {
            streamFlows.remove(flow.id());
            flowsByRemote.remove(flow.remote(), flow);
        });
        return flow;
    }

    /** The flow is closing: taken out of every table that finds flows, as the close would. */
    private void retire(StreamFlow flow) {
        flow.retire();
        streamFlows.remove(flow.id(), flow);
        flowsByRemote.remove(flow.remote(), flow);
        tlsOut.forget(flow);
        tcpOut.forget(flow);
    }

    private boolean admit(InetSocketAddress source, Transport transport) {
        if (rateLimiter != null && !floodExempt.test(source.getAddress()) && !rateLimiter.tryAcquire(source.getAddress())) {
            observer.dropped("flood", transport, source);
            return false;
        }
        return true;
    }

    private static final int STUN_MAGIC_COOKIE = 0x2112A442;

    /**
     * A datagram waiting in its lane, with when it was read and whether it starts new work (an
     * out-of-dialog request, {@link SipPeek#isOutOfDialogRequest}), which an overloaded lane sheds
     * ({@link InboundLanes#behind}).
     */
    private final class Datagram implements Runnable {
        final byte[] data;
        final DatagramFlow flow;
        final long readAt;
        final boolean newWork;

        Datagram(byte[] data, DatagramFlow flow, long readAt, boolean newWork) {
            this.data = data;
            this.flow = flow;
            this.readAt = readAt;
            this.newWork = newWork;
        }

        @Override
        public void run() {
            // every datagram tells the lane how far behind it is; only new work is shed
            if (InboundLanes.behind(readAt, System.nanoTime()) && newWork) {
                observer.dropped("shed", Transport.UDP, flow.remote());
                return;
            }
            dispatch(data, flow, true);
        }
    }

    @ChannelHandler.Sharable
    private final class DatagramHandler extends SimpleChannelInboundHandler<DatagramPacket> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
            InetSocketAddress sender = packet.sender();
            if (!admit(sender, Transport.UDP)) {
                return;
            }
            ByteBuf content = packet.content();
            int length = content.readableBytes();
            if (length > settings.maxMessageSize()) {
                observer.dropped("oversize", Transport.UDP, sender);
                return;
            }
            if (isKeepAlive(content)) {
                observer.dropped("keepalive", Transport.UDP, sender);
                return;
            }
            byte[] data = new byte[length];
            content.getBytes(content.readerIndex(), data);
            InboundLanes current = lanes;
            if (current == null) {
                return; // stopping
            }
            long key = SipPeek.callIdHash(data, 0, length);
            if (key == SipPeek.NO_CALL_ID) {
                key = sender.hashCode() & 0x7FFFFFFFL; // the parser rejects it on some lane, as before
            }
            Datagram datagram = new Datagram(data, new DatagramFlow(ctx.channel(), sender), System.nanoTime(),
                    SipPeek.isOutOfDialogRequest(data, 0, length));
            if (!current.offer(key, datagram)) {
                observer.dropped("overload", Transport.UDP, sender);
            }
        }

        /** CRLF keep-alives (RFC 5626 §4.4.1 uses STUN, many phones send CRLF) and STUN binding requests. */
        private boolean isKeepAlive(ByteBuf content) {
            int length = content.readableBytes();
            if (length == 0) {
                return true;
            }
            int start = content.readerIndex();
            if (length >= 20 && (content.getByte(start) & 0xC0) == 0
                    && content.getInt(start + 4) == STUN_MAGIC_COOKIE) {
                return true; // RFC 5389 §6: top two bits zero and the magic cookie at offset 4
            }
            for (int i = content.readerIndex(); i < content.writerIndex(); i++) {
                byte b = content.getByte(i);
                if (b != '\r' && b != '\n' && b != ' ' && b != '\t') {
                    return false;
                }
            }
            return true;
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // ICMP port unreachable and the like surface here for UDP; never close the listening socket
            log.debug("UDP socket error on {}: {}", ctx.channel().localAddress(), cause.toString());
        }
    }

    private final class StreamInitializer extends ChannelInitializer<SocketChannel> {
        private final Transport transport;

        /** For outgoing TLS connections: the client side, the name checked, the port (for session reuse). */
        private final TlsConnector client;
        private final String serverName;
        private final int port;

        /** A connection this node opens (outgoing TLS, TCP to a device), not one a peer opened to it. */
        private final boolean outgoing;

        StreamInitializer(Transport transport) {
            this(transport, null, null, 0, false);
        }

        StreamInitializer(Transport transport, TlsConnector client, String serverName, int port) {
            this(transport, client, serverName, port, true);
        }

        StreamInitializer(Transport transport, TlsConnector client, String serverName, int port, boolean outgoing) {
            this.transport = transport;
            this.client = client;
            this.serverName = serverName;
            this.port = port;
            this.outgoing = outgoing;
        }

        @Override
        protected void initChannel(SocketChannel channel) {
            long idle = settings.idleConnectionTimeout().toMillis();
            if (client != null) {
                client.install(channel, serverName, port);
            } else if (transport == Transport.TLS) {
                tls.install(channel);
            }
            if (!outgoing && channel.parent() != null && proxyProtocolFrom.test(channel.remoteAddress().getAddress())) {
                // added after TLS, both at the front: the balancer passes TLS through and its header
                // comes before the handshake
                ProxyProtocolGate.install(channel, PROXY_HEADER_TIMEOUT_MILLIS, (refused, why) -> {
                    observer.dropped("proxy_header", transport, (InetSocketAddress) refused.remoteAddress());
                    // a balancer without send-proxy, or a client connecting straight from a balancer's
                    // address, is a setting to fix: said at most once a minute, each one counted
                    if (proxyHeaderWarning.due()) {
                        log.warn("closed a {} connection from {}, an address in telephony.proxyProtocolFrom: {}; does that"
                                + " balancer send a PROXY header (HAProxy send-proxy-v2)? Every such connection is counted in"
                                + " switchboard_sip_dropped_total{reason=\"proxy_header\"}", transport, refused.remoteAddress(), why);
                    } else {
                        log.debug("closing {} connection from {}: {}", transport, refused.remoteAddress(), why);
                    }
                });
            }
            channel.pipeline()
                    .addLast(new IdleStateHandler(0, 0, idle, TimeUnit.MILLISECONDS))
                    .addLast(new StreamFramer(settings.maxMessageSize(), transport, new StreamFramer.FramingErrors() {
                        @Override
                        public void framingError(ChannelHandlerContext ctx, String reason, String drop, SipResponse answer) {
                            InetSocketAddress remote = ProxyProtocolGate.remoteOf(ctx.channel());
                            if (drop != null) {
                                observer.dropped(drop, transport, remote, reason);
                            } else {
                                observer.parseError(reason, transport, remote);
                            }
                            StreamFlow flow = ctx.channel().attr(FLOW).get();
                            if (answer != null && flow != null) {
                                observer.messageSent(answer, flow);
                            }
                            if (flow != null) {
                                // the channel stays open a while to drain, but nothing is routed to
                                // it any more: gone from the flow tables now, not at the close
                                retire(flow);
                            }
                            log.debug("{} connection from {} lost framing: {}", transport, remote, reason);
                        }

                        @Override
                        public void keepAlive(ChannelHandlerContext ctx) {
                            observer.dropped("keepalive", transport, ProxyProtocolGate.remoteOf(ctx.channel()));
                        }
                    }))
                    .addLast(new StreamHandler(transport, outgoing));
        }
    }

    private final class StreamHandler extends SimpleChannelInboundHandler<byte[]> {
        private final Transport transport;
        /**
         * A connection this node opened (outgoing TLS, TCP to a device): registered as a flow by
         * whoever opened it, once it is up (and, for TLS, its peer checked).
         */
        private final boolean outgoing;
        private boolean counted;

        StreamHandler(Transport transport, boolean outgoing) {
            this.transport = transport;
            this.outgoing = outgoing;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) throws Exception {
            if (outgoing) {
                // Counted among open connections, but never refused by the limits on what others
                // open to us: those limits stop a peer from taking every socket, while these are
                // connections this node chose to open, bounded by the pending-connect permits and
                // reused per peer (OutboundConnects). The flow is registered by checkServer after
                // the name check, or by connectTcp.
                connections.incrementAndGet();
                counted = true;
                super.channelActive(ctx);
                return;
            }
            InetSocketAddress remote = ProxyProtocolGate.remoteOf(ctx.channel());
            AtomicInteger perAddress = connectionsPerAddress.computeIfAbsent(remote.getAddress(), a -> new AtomicInteger());
            int total = connections.incrementAndGet();
            int fromAddress = perAddress.incrementAndGet();
            counted = true;
            if (total > settings.maxConnections() || fromAddress > settings.maxConnectionsPerAddress()
                    || !admit(remote, transport)) {
                if (total > settings.maxConnections() || fromAddress > settings.maxConnectionsPerAddress()) {
                    observer.dropped("connection_limit", transport, remote);
                }
                ctx.close();
                return;
            }
            registerStream(ctx.channel(), transport);
            super.channelActive(ctx);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            if (counted) {
                counted = false;
                connections.decrementAndGet();
                InetSocketAddress remote = ProxyProtocolGate.remoteOf(ctx.channel());
                if (remote != null && !outgoing) {
                    connectionsPerAddress.computeIfPresent(remote.getAddress(),
                            (a, n) -> n.decrementAndGet() <= 0 ? null : n);
                }
            }
            super.channelInactive(ctx);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, byte[] frame) {
            StreamFlow flow = ctx.channel().attr(FLOW).get();
            if (flow == null) {
                return; // an outgoing TLS connection whose certificate is not checked yet
            }
            if (!admit(flow.remote(), transport)) {
                return;
            }
            dispatch(frame, flow, false);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
            if (event instanceof IdleStateEvent) {
                observer.dropped("idle", transport, ProxyProtocolGate.remoteOf(ctx.channel()));
                ctx.close();
                return;
            }
            super.userEventTriggered(ctx, event);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("{} connection {} failed: {}", transport, ProxyProtocolGate.remoteOf(ctx.channel()), cause.toString());
            ctx.close();
        }
    }
}
