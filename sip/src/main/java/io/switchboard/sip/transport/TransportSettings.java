package io.switchboard.sip.transport;

import java.time.Duration;

/**
 * Limits that keep one peer from hurting the others.
 *
 * @param maxMessageSize        largest message accepted on any transport, in octets
 * @param floodLimitPerSecond   messages per second accepted from one source address; 0 turns it off
 * @param floodBurst            messages one source may send at once above its rate
 * @param maxConnections        simultaneous stream connections in all
 * @param maxConnectionsPerAddress simultaneous stream connections from one address
 * @param partialMessageTimeout how long a connection may take to complete a started message (slow peers)
 * @param idleConnectionTimeout how long a connection may stay silent (RFC 5626 keep-alives count)
 * @param ioThreads             event loop threads; 0 means one per core
 * @param udpReceiveBuffer      SO_RCVBUF asked for on UDP sockets
 * @param workerThreads         lanes: threads that parse and handle datagrams, each the calls whose
 *                              Call-ID hashes to it, in arrival order ({@link InboundLanes}); 0 means one per core
 * @param workerQueue           datagrams waiting in all lanes together, each lane holding an equal share;
 *                              a datagram for a full lane is dropped ("overload")
 */
public record TransportSettings(int maxMessageSize, int floodLimitPerSecond, int floodBurst, int maxConnections,
                                int maxConnectionsPerAddress, Duration partialMessageTimeout,
                                Duration idleConnectionTimeout, int ioThreads, int udpReceiveBuffer,
                                int workerThreads, int workerQueue) {
    public static TransportSettings defaults() {
        return new TransportSettings(65_535, 0, 0, 20_000, 200, Duration.ofSeconds(30), Duration.ofMinutes(15), 0,
                4 * 1024 * 1024, 0, 65_536);
    }

    public TransportSettings withFloodLimit(int perSecond, int burst) {
        return new TransportSettings(maxMessageSize, perSecond, burst, maxConnections, maxConnectionsPerAddress,
                partialMessageTimeout, idleConnectionTimeout, ioThreads, udpReceiveBuffer, workerThreads, workerQueue);
    }

    public TransportSettings withTimeouts(Duration partial, Duration idle) {
        return new TransportSettings(maxMessageSize, floodLimitPerSecond, floodBurst, maxConnections,
                maxConnectionsPerAddress, partial, idle, ioThreads, udpReceiveBuffer, workerThreads, workerQueue);
    }

    public TransportSettings withConnectionLimits(int total, int perAddress) {
        return new TransportSettings(maxMessageSize, floodLimitPerSecond, floodBurst, total, perAddress,
                partialMessageTimeout, idleConnectionTimeout, ioThreads, udpReceiveBuffer, workerThreads, workerQueue);
    }

    public TransportSettings withIoThreads(int threads) {
        return new TransportSettings(maxMessageSize, floodLimitPerSecond, floodBurst, maxConnections,
                maxConnectionsPerAddress, partialMessageTimeout, idleConnectionTimeout, threads, udpReceiveBuffer,
                workerThreads, workerQueue);
    }
}
