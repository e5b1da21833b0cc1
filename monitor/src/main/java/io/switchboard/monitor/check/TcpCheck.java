package io.switchboard.monitor.check;

import io.switchboard.monitor.definition.DurationText;
import io.switchboard.monitor.definition.MonitorDefinition;
import io.switchboard.monitor.definition.Targets;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** TCP check: the port accepts a connection within the timeout. Nothing is sent. */
public final class TcpCheck implements Check {
    private final Clock clock;

    public TcpCheck(Clock clock) {
        this.clock = clock;
    }

    @Override
    public CheckResult run(MonitorDefinition monitor) {
        Targets.HostAndPort target = Targets.hostAndPort(monitor.target(), -1);
        Instant startedAt = clock.instant();
        long begin = System.nanoTime();
        List<String> worked = new ArrayList<>();
        Map<String, Object> details = new LinkedHashMap<>();
        InetAddress address;
        try {
            address = InetAddress.getByName(target.host());
        } catch (UnknownHostException e) {
            return CheckResult.down(startedAt, elapsed(begin), FailureText.of(e, target.host(), target.port(), monitor.timeout()),
                    worked, details);
        }
        long resolved = System.nanoTime();
        if (!address.getHostAddress().equals(target.host())) {
            worked.add("the name " + target.host() + " resolved to " + address.getHostAddress());
            details.put("dnsMs", (resolved - begin) / 1_000_000);
        }
        details.put("address", address.getHostAddress());
        long remaining = Math.max(1, monitor.timeout().toMillis() - (resolved - begin) / 1_000_000);
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(address, target.port()), (int) Math.min(Integer.MAX_VALUE, remaining));
        } catch (IOException e) {
            FailureText.noteReachable(e, target.host(), worked);
            String error = e instanceof java.net.SocketTimeoutException
                    ? "could not connect to " + target + " within " + DurationText.spoken(monitor.timeout()) + " (no answer at all)"
                    : FailureText.of(e, target.host(), target.port(), monitor.timeout());
            return CheckResult.down(startedAt, elapsed(begin), error, worked, details);
        }
        long latency = elapsed(begin);
        details.put("connectMs", (System.nanoTime() - resolved) / 1_000_000);
        worked.add("port " + target.port() + " accepted the connection in " + latency + " ms");
        if (monitor.degradedAbove() != null && latency > monitor.degradedAbove().toMillis()) {
            return new CheckResult(CheckStatus.DEGRADED, startedAt, latency, "connected in " + latency + " ms, slower than the "
                    + DurationText.spoken(monitor.degradedAbove()) + " threshold", worked, details);
        }
        return new CheckResult(CheckStatus.UP, startedAt, latency, null, worked, details);
    }

    private static long elapsed(long begin) {
        return (System.nanoTime() - begin) / 1_000_000;
    }
}
