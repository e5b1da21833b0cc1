package io.switchboard.telephony.numbers;

/**
 * A request about numbers that cannot be done as asked. The message says why, for a person; the
 * field names the input at fault ({@code number}, {@code accounts}, {@code label}, {@code domain}).
 */
public class NumberException extends RuntimeException {
    public enum Kind {
        /** Malformed input: bad syntax, an empty member list. */
        INVALID,
        /** Well-formed but refers to accounts that do not exist. */
        UNKNOWN_ACCOUNT,
        /** The number is already taken by an account's username in that domain. */
        CONFLICT,
        NOT_FOUND
    }

    private final Kind kind;
    private final String field;

    public NumberException(Kind kind, String field, String message) {
        super(message);
        this.kind = kind;
        this.field = field;
    }

    public Kind kind() {
        return kind;
    }

    public String field() {
        return field;
    }
}
