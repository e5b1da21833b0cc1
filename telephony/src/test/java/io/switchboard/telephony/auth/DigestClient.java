package io.switchboard.telephony.auth;

import io.switchboard.telephony.accounts.DigestAlgorithm;

import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What a device does with a challenge (RFC 7616 §3.4), written independently of the server's code. */
public final class DigestClient {
    private static final Pattern PARAM = Pattern.compile("(\\w+)=(\"([^\"]*)\"|[^,\\s]+)");

    private DigestClient() {
    }

    public static Map<String, String> challengeParams(String challenge) {
        Map<String, String> params = new HashMap<>();
        Matcher m = PARAM.matcher(challenge.substring(challenge.indexOf(' ') + 1));
        while (m.find()) {
            params.put(m.group(1).toLowerCase(), m.group(3) != null ? m.group(3) : m.group(2));
        }
        return params;
    }

    public static String authorization(String challenge, String username, String password, String method, String uri,
                                       int nc, String cnonce) {
        Map<String, String> c = challengeParams(challenge);
        DigestAlgorithm algorithm = DigestAlgorithm.fromToken(c.get("algorithm"));
        String ncText = String.format("%08x", nc);
        String ha1 = algorithm.hash(username + ":" + c.get("realm") + ":" + password);
        String ha2 = algorithm.hash(method + ":" + uri);
        String response = algorithm.hash(ha1 + ":" + c.get("nonce") + ":" + ncText + ":" + cnonce + ":auth:" + ha2);
        return "Digest username=\"" + username + "\", realm=\"" + c.get("realm") + "\", nonce=\"" + c.get("nonce")
                + "\", uri=\"" + uri + "\", response=\"" + response + "\", algorithm=" + algorithm.token()
                + ", cnonce=\"" + cnonce + "\", qop=auth, nc=" + ncText + ", opaque=\"" + c.get("opaque") + "\"";
    }
}
