package io.switchboard.monitor.definition;

/**
 * A monitor, channel or maintenance window that cannot be stored as given. {@link #field()} names
 * the field at fault as a path ({@code interval}, {@code headers.Accept}, {@code monitors[2].target})
 * so the CLI and the API can point at it; {@link #kind()} decides the API status.
 */
public final class DefinitionException extends RuntimeException {
    public enum Kind {
        /** Malformed or out of range (400). */
        INVALID,
        /** No such monitor, channel or window (404). */
        NOT_FOUND,
        /** The name exists already, or the thing is still in use (409). */
        CONFLICT,
        /** Well formed, but names something that does not exist, e.g. an unknown channel (422). */
        UNKNOWN_REFERENCE
    }

    private final Kind kind;
    private final String field;

    public DefinitionException(Kind kind, String field, String message) {
        super(message, null, false, false);
        this.kind = kind;
        this.field = field;
    }

    public static DefinitionException invalid(String field, String message) {
        return new DefinitionException(Kind.INVALID, field, message);
    }

    public Kind kind() {
        return kind;
    }

    /** The field at fault, or null when the problem is the whole thing (e.g. not found). */
    public String field() {
        return field;
    }

    /** The same problem with its field placed under {@code prefix}: {@code monitors[0] (shop).interval}. */
    public DefinitionException under(String prefix) {
        String path = field == null ? prefix : prefix + "." + field;
        return new DefinitionException(kind, path, getMessage());
    }

    /** "field: message", or the message alone when no field is at fault. */
    public String describe() {
        return field == null ? getMessage() : field + ": " + getMessage();
    }
}
