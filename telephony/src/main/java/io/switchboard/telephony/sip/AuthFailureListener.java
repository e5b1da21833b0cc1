package io.switchboard.telephony.sip;

import java.net.InetSocketAddress;

/** Where the registrar and the proxy report a failed digest authentication or a forged request: meters and the log. */
@FunctionalInterface
public interface AuthFailureListener {
    /**
     * @param reason the meter's {@code reason} tag: wrong_password, unknown_user, replayed, bad_credentials, wrong_user, ...
     * @param source where the request came from (null when unknown)
     * @param what   what was refused and why, in words, e.g. "REGISTER of sip:1001@vm refused (403): wrong password"
     */
    void authFailure(String reason, InetSocketAddress source, String what);
}
