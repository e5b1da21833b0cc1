package io.switchboard.telephony.registrar;

/**
 * One registered contact of an address of record (RFC 3261 §10): where and how to reach a device,
 * until when, and the flow it registered over, so requests to it can go back the same way.
 *
 * @param aor           the canonical address of record, "sip:alice@example.org"
 * @param contact       the contact URI as the device gave it
 * @param contactHeader the Contact value as stored (URI with header parameters but without expires)
 * @param qValue        q-value in thousandths (0..1000), RFC 3261 §20.10
 * @param flowId        the transport flow it registered over ({@code SipFlow.id()}), on the node {@code node}
 * @param regId         the RFC 5626 reg-id it registered with, 0 for none
 * @param node          the id of the node that holds its flow (the node it registered through)
 * @param path          that node's node-to-node SIP URI (RFC 3327 Path): how other nodes reach the flow
 * @param version       the registering node's clock at the REGISTER that made or refreshed it: of two
 *                      announcements of one binding the higher wins, and a removal at a later time wins
 */
public record Binding(String aor, String contact, String contactHeader, String callId, long cseq, int qValue,
                      long expiresAtMillis, long registeredAtMillis, String transport, String remoteAddress,
                      int remotePort, String localAddress, int localPort, String flowId, String userAgent,
                      String instanceId, int regId, String node, String path, long version) {

    public long remainingSeconds(long nowMillis) {
        return Math.max(0, (expiresAtMillis - nowMillis + 999) / 1000);
    }

    public boolean isExpired(long nowMillis) {
        return expiresAtMillis <= nowMillis;
    }

    /**
     * How far a removal at {@code at} reaches: a binding removed by a request (unregistered,
     * replaced) is gone as of that time, so any copy made before it goes too; one removed because it
     * looked expired here is gone only as the registration this node knew of, since another node
     * may have refreshed it meanwhile and the refresh must survive (in the store and on every node).
     */
    public long removalBound(long at) {
        return isExpired(at) ? version : at;
    }

    /**
     * True when a registration of one replaces the other whatever their contact URIs: the same
     * +sip.instance with the same reg-id (RFC 5626 §6: one flow of the device), or the same
     * +sip.instance and neither has a reg-id (RFC 5626 §6 and RFC 5627: without outbound the
     * instance-id alone names the device, in place of the Contact URI). A phone that restarts over
     * TCP registers a new contact (a new source port in it) with the same instance; matched by URI
     * alone, each restart left one more binding until the AOR hit its contact limit. Kamailio's
     * usrloc matches the same way (instance-id and equal reg-id, 0 for none). One with a reg-id and
     * one without are different registrations (an outbound flow and a plain one).
     */
    public boolean sameFlowAs(Binding other) {
        return instanceId != null && instanceId.equals(other.instanceId) && regId == other.regId;
    }
}
