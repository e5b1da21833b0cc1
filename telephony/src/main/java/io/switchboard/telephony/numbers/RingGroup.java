package io.switchboard.telephony.numbers;

import io.switchboard.sip.message.SipUri;
import java.util.List;

/**
 * What a dialed number stands for: the usernames (sorted) of the accounts in {@code domain} whose
 * bindings all ring. The label is for people ("Flat 42"), or null.
 */
public record RingGroup(String number, String domain, String label, List<String> members) {
    public RingGroup {
        members = List.copyOf(members);
    }

    /** "42@example.org" (the number as dialled; the key it is stored and found by). */
    public String address() {
        return number + "@" + domain;
    }

    /** The number as a SIP URI, for people and clients to dial: "sip:*21%23@example.org" (RFC 3261 §25.1). */
    public String uri() {
        return "sip:" + SipUri.escapeUser(number) + "@" + domain;
    }
}
