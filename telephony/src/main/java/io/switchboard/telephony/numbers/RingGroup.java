package io.switchboard.telephony.numbers;

import java.util.List;

/**
 * What a dialed number stands for: the usernames (sorted) of the accounts in {@code domain} whose
 * bindings all ring. The label is for people ("Flat 42"), or null.
 */
public record RingGroup(String number, String domain, String label, List<String> members) {
    public RingGroup {
        members = List.copyOf(members);
    }

    /** "42@example.org". */
    public String address() {
        return number + "@" + domain;
    }
}
