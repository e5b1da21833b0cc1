package io.switchboard.sip.message;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A SIP request or response (RFC 3261 §7). Headers are kept as text in wire order; the values the
 * stack itself needs (Via, From, To, Call-ID, CSeq, Contact) are parsed on first use and cached
 * until the headers change. A message has one owner at a time and is not thread-safe.
 */
public abstract sealed class SipMessage permits SipRequest, SipResponse {
    private static final byte[] NO_BODY = new byte[0];
    /** One text buffer per thread for {@link #encode()}: every message sent would otherwise grow a new one. */
    private static final ThreadLocal<StringBuilder> ENCODE_BUFFER = ThreadLocal.withInitial(() -> new StringBuilder(2048));

    protected final SipHeaders headers;
    private byte[] body;

    private int cacheStamp = -1;
    private List<Via> vias;
    private NameAddress from;
    private NameAddress to;
    private CSeq cseq;
    private List<NameAddress> contacts;

    protected SipMessage(SipHeaders headers, byte[] body) {
        this.headers = headers;
        this.body = body == null ? NO_BODY : body;
    }

    public SipHeaders headers() {
        return headers;
    }

    /** The first value of a header (names case-insensitive, compact forms accepted), or null. */
    public String header(String name) {
        String field = headers.get(name);
        if (field == null || !HeaderNames.isList(HeaderNames.key(name))) {
            return field;
        }
        int end = HeaderText.firstListElementEnd(field);
        return end < 0 ? field.trim() : field.substring(0, end).trim();
    }

    /** All values of a header in order, list headers split per RFC 3261 §7.3.1. */
    public List<String> headerValues(String name) {
        return headers.values(name);
    }

    public byte[] body() {
        return body;
    }

    public void setBody(byte[] body, String contentType) {
        this.body = body == null ? NO_BODY : body;
        if (contentType != null) {
            headers.set(HeaderNames.CONTENT_TYPE, contentType);
        } else if (this.body.length == 0) {
            headers.remove(HeaderNames.CONTENT_TYPE);
        }
    }

    public String callId() {
        return headers.get(HeaderNames.CALL_ID);
    }

    /** Max-Forwards, or -1 when absent. */
    public int maxForwards() {
        String value = headers.get(HeaderNames.MAX_FORWARDS);
        return value == null ? -1 : (int) HeaderText.parseBounded(value, 255, "Max-Forwards");
    }

    public List<Via> vias() {
        refresh();
        if (vias == null) {
            List<String> values = headers.values(HeaderNames.VIA);
            List<Via> parsed = new ArrayList<>(values.size());
            for (String v : values) {
                parsed.add(Via.parse(v));
            }
            vias = parsed;
        }
        return vias;
    }

    /** The top Via, or null when there is none. */
    public Via topVia() {
        List<Via> all = vias();
        return all.isEmpty() ? null : all.get(0);
    }

    public NameAddress from() {
        refresh();
        if (from == null) {
            String value = headers.get(HeaderNames.FROM);
            from = value == null ? null : NameAddress.parse(value);
        }
        return from;
    }

    public NameAddress to() {
        refresh();
        if (to == null) {
            String value = headers.get(HeaderNames.TO);
            to = value == null ? null : NameAddress.parse(value);
        }
        return to;
    }

    public CSeq cseq() {
        refresh();
        if (cseq == null) {
            String value = headers.get(HeaderNames.CSEQ);
            cseq = value == null ? null : CSeq.parse(value);
        }
        return cseq;
    }

    public List<NameAddress> contacts() {
        refresh();
        if (contacts == null) {
            List<String> values = headers.values(HeaderNames.CONTACT);
            List<NameAddress> parsed = new ArrayList<>(values.size());
            for (String v : values) {
                parsed.add(NameAddress.parse(v));
            }
            contacts = List.copyOf(parsed);
        }
        return contacts;
    }

    /**
     * Replaces the top Via (e.g. after stamping received/rport) keeping every other parsed value
     * cached: re-parsing all headers of every request for one changed parameter is measurable.
     */
    public void replaceTopVia(Via via) {
        List<Via> current = vias();
        headers.replaceFirstValue(HeaderNames.VIA, via.toString());
        List<Via> updated = new ArrayList<>(current);
        updated.set(0, via);
        vias = updated;
        cacheStamp = headers.modifications();
    }

    /** Sets To from an already parsed value, keeping the other cached values. */
    void replaceTo(NameAddress address, String text) {
        refresh();
        headers.set(HeaderNames.TO, text);
        to = address;
        cacheStamp = headers.modifications();
    }

    /** Takes over another message's parsed Via, From, To and CSeq when they were copied verbatim. */
    void inheritParsed(SipMessage source) {
        source.refresh();
        refresh();
        vias = source.vias;
        from = source.from;
        to = source.to;
        cseq = source.cseq;
    }

    private void refresh() {
        int stamp = headers.modifications();
        if (stamp != cacheStamp) {
            vias = null;
            from = null;
            to = null;
            cseq = null;
            contacts = null;
            cacheStamp = stamp;
        }
    }

    /** The start line without CRLF. */
    public abstract String startLine();

    /** The wire form, with Content-Length computed from the body (RFC 3261 §20.14). */
    public byte[] encode() {
        StringBuilder text = ENCODE_BUFFER.get();
        text.setLength(0);
        text.append(startLine()).append("\r\n");
        headers.appendTo(text);
        text.append("Content-Length: ").append(body.length).append("\r\n\r\n");
        byte[] head = text.toString().getBytes(StandardCharsets.UTF_8);
        if (text.capacity() > 16_384) {
            ENCODE_BUFFER.remove(); // do not keep a buffer grown by one huge message
        }
        if (body.length == 0) {
            return head;
        }
        byte[] out = new byte[head.length + body.length];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(body, 0, out, head.length, body.length);
        return out;
    }

    @Override
    public String toString() {
        return new String(encode(), StandardCharsets.UTF_8);
    }
}
