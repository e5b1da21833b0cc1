package io.switchboard.telephony.cluster;

import io.switchboard.platform.cluster.Cluster;
import io.switchboard.platform.cluster.NodeRecord;

import io.netty.util.NetUtil;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Node liveness from the cluster's membership (heartbeats in the store, by the database's clock),
 * with this node's own recent failures on top: a node is alive when the view says so and no
 * attempt to reach it failed lately. The view alone would still send calls for up to an expiry
 * (6 s by default) to a node that just died; the failures alone would wait up to a SIP transaction
 * timeout (32 s) on a node that swallows packets. A node the view does not list (a binding written
 * before this node read its first view, or by a node that never joined) is judged by the failures.
 */
public final class MembershipLiveness implements NodeLiveness {
    private final Cluster cluster;
    private final NodeLiveness failures;

    public MembershipLiveness(Cluster cluster, NodeLiveness failures) {
        this.cluster = cluster;
        this.failures = failures;
    }

    @Override
    public boolean isAlive(String nodeId) {
        Optional<NodeRecord> known = cluster.view().node(nodeId);
        if (known.isPresent() && !known.get().isAlive()) {
            return false;
        }
        return failures.isAlive(nodeId);
    }

    @Override
    public void unreachable(String nodeId) {
        failures.unreachable(nodeId);
    }

    /**
     * Looks through the SIP listeners and Path each node advertises in the view ({@code sip.listeners},
     * {@code sip.path}); a listener bound to a wildcard address matches any host at its port. When
     * two records match (a node replaced by one with another id at the same address), the live one.
     */
    @Override
    public String nodeListeningAt(String host, int port) {
        String wanted = bare(host);
        String found = null;
        for (NodeRecord record : cluster.view().nodes()) {
            if (!listensAt(record, wanted, port)) {
                continue;
            }
            if (record.isAlive()) {
                return record.id();
            }
            found = record.id();
        }
        return found;
    }

    @Override
    public Optional<String> pathOf(String nodeId) {
        return cluster.view().node(nodeId)
                .map(record -> record.addresses().get("sip.path") instanceof String path ? path : null);
    }

    @Override
    public boolean everyNodeRoutesById() {
        for (NodeRecord record : cluster.view().nodes()) {
            // this node does (its own row may not say so yet: its view is read again at the next beat)
            if (record.isAlive() && !record.self() && !"true".equals(String.valueOf(record.addresses().get(ROUTES_BY_ID)))) {
                return false;
            }
        }
        return true;
    }

    @Override
    public Optional<NodePath> nodeHolding(String udpListener) {
        for (NodeRecord record : cluster.view().nodes()) {
            if (!record.isAlive() || !(record.addresses().get("sip.holds") instanceof Collection<?> held)
                    || !held.contains(udpListener) || !(record.addresses().get("sip.path") instanceof String path)) {
                continue;
            }
            if (failures.isAlive(record.id())) {
                return Optional.of(new NodePath(record.id(), path));
            }
        }
        return Optional.empty();
    }

    private static boolean listensAt(NodeRecord record, String host, int port) {
        List<String> points = new ArrayList<>();
        Object listeners = record.addresses().get("sip.listeners");
        if (listeners instanceof Collection<?> all) {
            all.forEach(l -> points.add(String.valueOf(l)));
        }
        Object path = record.addresses().get("sip.path");
        if (path instanceof String p && p.startsWith("sip:")) {
            int params = p.indexOf(';');
            points.add("path:" + (params < 0 ? p.substring(4) : p.substring(4, params)));
        }
        for (String point : points) {
            // "tcp:127.0.0.1:5060", "udp:[::1]:5060", "path:10.0.0.2:5060"
            int first = point.indexOf(':');
            int last = point.lastIndexOf(':');
            if (first < 0 || last <= first) {
                continue;
            }
            String pointHost = bare(point.substring(first + 1, last));
            int pointPort;
            try {
                pointPort = Integer.parseInt(point.substring(last + 1));
            } catch (NumberFormatException e) {
                continue;
            }
            if (pointPort == port && (sameHost(pointHost, host) || isWildcard(pointHost))) {
                return true;
            }
        }
        return false;
    }

    private static String bare(String host) {
        String h = host.toLowerCase(Locale.ROOT);
        return h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
    }

    private static boolean isWildcard(String host) {
        byte[] address = NetUtil.createByteArrayFromIpAddressString(host);
        return address != null && Arrays.equals(address, new byte[address.length]);
    }

    private static boolean sameHost(String a, String b) {
        if (a.equals(b)) {
            return true;
        }
        byte[] x = NetUtil.createByteArrayFromIpAddressString(a);
        byte[] y = NetUtil.createByteArrayFromIpAddressString(b);
        return x != null && Arrays.equals(x, y);
    }
}
