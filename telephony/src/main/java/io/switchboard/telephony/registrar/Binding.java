package io.switchboard.telephony.registrar;

/**
 * One registered contact of an address of record (RFC 3261 §10): where and how to reach a device,
 * until when, and the flow it registered over, so requests to it can go back the same way.
 *
 * @param aor           the canonical address of record, "sip:alice@example.org"
 * @param contact       the contact URI as the device gave it
 * @param contactHeader the Contact value as stored (URI with header parameters but without expires)
 * @param qValue        q-value in thousandths (0..1000), RFC 3261 §20.10
 * @param flowId        the transport flow it registered over ({@code SipFlow.id()})
 */
public record Binding(String aor, String contact, String contactHeader, String callId, long cseq, int qValue,
                      long expiresAtMillis, long registeredAtMillis, String transport, String remoteAddress,
                      int remotePort, String localAddress, int localPort, String flowId, String userAgent,
                      String instanceId) {

    public long remainingSeconds(long nowMillis) {
        return Math.max(0, (expiresAtMillis - nowMillis + 999) / 1000);
    }

    public boolean isExpired(long nowMillis) {
        return expiresAtMillis <= nowMillis;
    }
}
