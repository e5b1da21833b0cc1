package io.switchboard.telephony.accounts;

/** A request about accounts that cannot be done as asked; the message says why, for a person. */
public class AccountException extends RuntimeException {
    public enum Kind { INVALID, NOT_FOUND, EXISTS }

    private final Kind kind;

    public AccountException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
