package io.switchboard.server.telephony;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** How the test phones read SIP from a TCP connection. */
public final class SipStream {
    private static final Pattern CONTENT_LENGTH = Pattern.compile("(?im)^(?:content-length|l)\\s*:\\s*(\\d+)");

    private SipStream() {
    }

    /**
     * RFC 3261 §18.3: the next message on a stream, its end found by Content-Length; RFC 5626
     * §3.5.1 keep-alive CRLFs between messages are skipped. Null at the end of the stream.
     */
    public static byte[] readMessage(InputStream in) throws IOException {
        while (true) {
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            int b;
            int matched = 0;
            while (matched < 4 && (b = in.read()) >= 0) {
                head.write(b);
                matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
            }
            if (matched < 4) {
                return null;
            }
            String text = head.toString(StandardCharsets.UTF_8);
            if (text.isBlank()) {
                continue;
            }
            Matcher m = CONTENT_LENGTH.matcher(text);
            byte[] body = in.readNBytes(m.find() ? Integer.parseInt(m.group(1)) : 0);
            byte[] all = new byte[head.size() + body.length];
            System.arraycopy(head.toByteArray(), 0, all, 0, head.size());
            System.arraycopy(body, 0, all, head.size(), body.length);
            return all;
        }
    }
}
