package io.switchboard.telephony.cluster;

import io.switchboard.platform.cluster.ClusterView;
import io.switchboard.platform.cluster.NodeRecord;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.HashSet;
import java.util.Set;

/**
 * The addresses of the other live nodes' SIP, from the {@code sip.path} each advertises in the
 * cluster view, kept current as the view changes. Node-to-node SIP (requests for devices whose
 * flow another node holds) comes from these addresses at the rate of all the devices of a node
 * together, so the per-source flood limit, meant for one device or one attacker, must not apply
 * to them; a node that dies or leaves stops being exempt with the next view.
 * <p>
 * Only address literals count (a path is built from a bound or advertised address, never a name).
 * A node that sends from another address than the one its path names (a second interface) is
 * not recognised and stays under the limit.
 */
public final class ClusterPeerAddresses {
    private volatile Set<InetAddress> live = Set.of();

    /** Recomputes the set from a view: call on every change of the cluster view. */
    public void update(ClusterView view) {
        Set<InetAddress> addresses = new HashSet<>();
        for (NodeRecord node : view.nodes()) {
            if (node.self() || !node.isAlive()) {
                continue;
            }
            InetAddress address = hostOf(node.addresses().get("sip.path"));
            if (address != null) {
                addresses.add(address);
            }
        }
        live = Set.copyOf(addresses);
    }

    public boolean contains(InetAddress source) {
        return live.contains(source);
    }

    /** The host of a SIP URI such as {@code sip:10.0.0.2:5060;transport=tcp} or {@code sip:[2001:db8::2]:5060}, if a literal. */
    static InetAddress hostOf(Object path) {
        if (!(path instanceof String uri) || !uri.regionMatches(true, 0, "sip:", 0, 4)) {
            return null;
        }
        String rest = uri.substring(4);
        int params = rest.indexOf(';');
        if (params >= 0) {
            rest = rest.substring(0, params);
        }
        String host;
        if (rest.startsWith("[")) {
            int close = rest.indexOf(']');
            if (close < 0) {
                return null;
            }
            host = rest.substring(1, close);
        } else {
            int colon = rest.indexOf(':');
            host = colon < 0 ? rest : rest.substring(0, colon);
        }
        byte[] literal = io.netty.util.NetUtil.createByteArrayFromIpAddressString(host);
        if (literal == null) {
            return null;
        }
        try {
            return InetAddress.getByAddress(literal);
        } catch (UnknownHostException e) {
            return null;
        }
    }
}
