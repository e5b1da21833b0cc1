package io.switchboard.sip.message;

import java.util.ArrayList;
import java.util.List;

/**
 * The header fields of a message in wire order. Several fields may share a name; each field value is
 * kept as received (unfolded), and {@link #values(String)} splits list-valued headers into elements.
 * Not thread-safe: a message has one owner at a time.
 */
public final class SipHeaders {
    private final ArrayList<String> keys;
    private final ArrayList<String> names;
    private final ArrayList<String> values;
    private int modifications;

    public SipHeaders() {
        this(16);
    }

    SipHeaders(int capacity) {
        keys = new ArrayList<>(capacity);
        names = new ArrayList<>(capacity);
        values = new ArrayList<>(capacity);
    }

    public SipHeaders copy() {
        SipHeaders copy = new SipHeaders(keys.size() + 4);
        copy.keys.addAll(keys);
        copy.names.addAll(names);
        copy.values.addAll(values);
        return copy;
    }

    int modifications() {
        return modifications;
    }

    public int size() {
        return keys.size();
    }

    public String name(int index) {
        return names.get(index);
    }

    public String value(int index) {
        return values.get(index);
    }

    public String key(int index) {
        return keys.get(index);
    }

    /** The first field value with this name, or null. */
    public String get(String name) {
        String key = HeaderNames.key(name);
        for (int i = 0; i < keys.size(); i++) {
            if (keys.get(i) == key) {
                return values.get(i);
            }
        }
        return null;
    }

    public boolean contains(String name) {
        return get(name) != null;
    }

    /** Every field value with this name, as received (list headers not split). */
    public List<String> fields(String name) {
        String key = HeaderNames.key(name);
        List<String> result = new ArrayList<>(2);
        for (int i = 0; i < keys.size(); i++) {
            if (keys.get(i) == key) {
                result.add(values.get(i));
            }
        }
        return result;
    }

    /** Every value with this name; list headers split on top-level commas (RFC 3261 §7.3.1). */
    public List<String> values(String name) {
        String key = HeaderNames.key(name);
        boolean list = HeaderNames.isList(key);
        List<String> result = new ArrayList<>(2);
        for (int i = 0; i < keys.size(); i++) {
            if (keys.get(i) == key) {
                if (list) {
                    HeaderText.splitList(values.get(i), result);
                } else {
                    result.add(values.get(i));
                }
            }
        }
        return result;
    }

    public SipHeaders add(String name, String value) {
        HeaderNames.Name resolved = HeaderNames.name(name);
        keys.add(resolved.key());
        names.add(resolved.canonical());
        values.add(value);
        modifications++;
        return this;
    }

    /** Adds a field before every other field of the same name, or at the end when there is none. */
    public SipHeaders addFirst(String name, String value) {
        String key = HeaderNames.key(name);
        int at = keys.indexOf(key);
        if (at < 0) {
            return add(name, value);
        }
        keys.add(at, key);
        names.add(at, HeaderNames.canonical(name));
        values.add(at, value);
        modifications++;
        return this;
    }

    /** Replaces every field of this name with one field, kept at the position of the first. */
    public SipHeaders set(String name, String value) {
        String key = HeaderNames.key(name);
        int at = keys.indexOf(key);
        if (at < 0) {
            return add(name, value);
        }
        values.set(at, value);
        for (int i = keys.size() - 1; i > at; i--) {
            if (keys.get(i) == key) {
                removeAt(i);
            }
        }
        modifications++;
        return this;
    }

    public SipHeaders remove(String name) {
        String key = HeaderNames.key(name);
        for (int i = keys.size() - 1; i >= 0; i--) {
            if (keys.get(i) == key) {
                removeAt(i);
            }
        }
        modifications++;
        return this;
    }

    /**
     * Removes the first value of a list header: the first element of the first field, keeping the
     * field's other elements (e.g. popping the top Via or Route, RFC 3261 §16.7 step 3, §16.4).
     */
    public String removeFirstValue(String name) {
        String key = HeaderNames.key(name);
        int at = keys.indexOf(key);
        if (at < 0) {
            return null;
        }
        List<String> elements = new ArrayList<>(2);
        HeaderText.splitList(values.get(at), elements);
        modifications++;
        if (elements.size() <= 1) {
            removeAt(at);
            return elements.isEmpty() ? null : elements.get(0);
        }
        values.set(at, String.join(", ", elements.subList(1, elements.size())));
        return elements.get(0);
    }

    /** Replaces the first value of a list header's first field (e.g. the top Via after adding received). */
    public void replaceFirstValue(String name, String newValue) {
        String key = HeaderNames.key(name);
        int at = keys.indexOf(key);
        if (at < 0) {
            add(name, newValue);
            return;
        }
        String field = values.get(at);
        int end = HeaderText.firstListElementEnd(field);
        values.set(at, end < 0 ? newValue : newValue + field.substring(end));
        modifications++;
    }

    private void removeAt(int i) {
        keys.remove(i);
        names.remove(i);
        values.remove(i);
    }

    void appendTo(StringBuilder out) {
        for (int i = 0; i < keys.size(); i++) {
            if (keys.get(i) == "content-length") {
                continue; // written by the serializer from the body, never trusted from the model
            }
            out.append(names.get(i)).append(": ").append(values.get(i)).append("\r\n");
        }
    }
}
