package io.switchboard.monitor.definition;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How secrets look wherever something is shown (API answers, error texts, logs, reports,
 * notifications, the language model's prompt): credential headers, the password in a target's
 * user information, and webhook URLs, whose path often is the credential (Slack, Discord and
 * Teams hooks). Stored values are never changed; only what is shown is.
 */
public final class Redaction {
    // RFC 3986 §3.2.1 (user:password@ in an authority; "deprecated", still written) and RFC 3261 §19.1.1
    // (sip:user:password@host): a scheme, then user ":" password "@"
    private static final Pattern USER_PASSWORD = Pattern.compile("^([A-Za-z][A-Za-z0-9+.-]*:(?://)?)([^@/:?#]*):([^@/?#]*)@");
    /** Header names whose values are credentials: masked when shown, and not sent to another origin on a redirect. */
    private static final Pattern CREDENTIAL_HEADER = Pattern.compile(
            "(?i).*(authorization|cookie|token|secret|key|password|credential).*");

    private Redaction() {
    }

    public static boolean isCredentialHeader(String name) {
        return CREDENTIAL_HEADER.matcher(name).matches();
    }

    /** A target with the password of its user information masked: {@code https://ops:***@host/health}. */
    public static String target(String target) {
        if (target == null) {
            return null;
        }
        Matcher m = USER_PASSWORD.matcher(target);
        if (!m.find() || m.group(3).equals(DefinitionReader.MASK)) {
            return target;
        }
        return m.group(1) + m.group(2) + ":" + DefinitionReader.MASK + "@" + target.substring(m.end());
    }

    /**
     * A webhook URL as shown: scheme, host and port, the path replaced by {@value DefinitionReader#MASK}
     * ({@code https://hooks.slack.com/***}); user information and query are dropped.
     */
    public static String url(String url) {
        if (url == null) {
            return null;
        }
        try {
            URI uri = new URI(url);
            if (uri.getScheme() == null || uri.getHost() == null) {
                return DefinitionReader.MASK;
            }
            String host = uri.getHost();
            String origin = uri.getScheme() + "://" + host + (uri.getPort() >= 0 ? ":" + uri.getPort() : "");
            boolean hidden = (uri.getRawPath() != null && !uri.getRawPath().isEmpty() && !uri.getRawPath().equals("/"))
                    || uri.getRawQuery() != null || uri.getRawUserInfo() != null;
            return hidden ? origin + "/" + DefinitionReader.MASK : origin + "/";
        } catch (URISyntaxException e) {
            return DefinitionReader.MASK;
        }
    }

    /** Replaces every occurrence of a secret in a text by {@value DefinitionReader#MASK}; short or null secrets are left. */
    public static String scrub(String text, Iterable<String> secrets) {
        if (text == null) {
            return null;
        }
        String out = text;
        for (String secret : secrets) {
            if (secret != null && secret.length() >= 3 && !secret.equals(DefinitionReader.MASK)) {
                out = out.replace(secret, DefinitionReader.MASK);
            }
        }
        return out;
    }
}
