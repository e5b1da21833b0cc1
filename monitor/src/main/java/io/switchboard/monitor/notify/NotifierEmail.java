package io.switchboard.monitor.notify;

import io.switchboard.monitor.check.CertificateTrust;
import io.switchboard.monitor.definition.ChannelDefinition;
import io.switchboard.monitor.definition.ChannelDefinition.ChannelSettings;
import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.SendFailedException;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.AddressException;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import org.eclipse.angus.mail.smtp.SMTPAddressFailedException;
import org.eclipse.angus.mail.smtp.SMTPSendFailedException;
import org.eclipse.angus.mail.smtp.SMTPSenderFailedException;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.Date;
import java.util.Properties;

/**
 * E-mail over SMTP with Angus Mail: STARTTLS on the submission port (RFC 3207, required: the
 * message is never sent in clear when the server does not offer it), implicit TLS (RFC 8314 §3.3),
 * or plain SMTP for a relay on a trusted network. The server's certificate is checked against the
 * trusted authorities (plus {@code caFile}) and its name (RFC 6125).
 */
public final class NotifierEmail implements Notifier {
    private final CertificateTrust trust;
    private final Duration timeout;

    public NotifierEmail(CertificateTrust trust, Duration timeout) {
        this.trust = trust;
        this.timeout = timeout;
    }

    @Override
    public void send(ChannelDefinition channel, Notification n) throws DeliveryException {
        ChannelSettings.Email s = (ChannelSettings.Email) channel.settings();
        Properties p = new Properties();
        String ms = Long.toString(timeout.toMillis());
        p.put("mail.smtp.host", s.host());
        p.put("mail.smtp.port", Integer.toString(s.port()));
        p.put("mail.smtp.connectiontimeout", ms);
        p.put("mail.smtp.timeout", ms);
        p.put("mail.smtp.writetimeout", ms);
        p.put("mail.smtp.auth", Boolean.toString(s.username() != null));
        switch (s.security()) {
            case "starttls" -> {
                p.put("mail.smtp.starttls.enable", "true");
                p.put("mail.smtp.starttls.required", "true");
            }
            case "tls" -> p.put("mail.smtp.ssl.enable", "true");
            default -> {
            }
        }
        if (!s.security().equals("none")) {
            try {
                p.put("mail.smtp.ssl.socketFactory", trust.sslContext(s.caFile()).getSocketFactory());
            } catch (IOException | GeneralSecurityException e) {
                throw DeliveryException.refused("the e-mail channel's caFile cannot be used: " + e.getMessage(), false);
            }
            p.put("mail.smtp.ssl.checkserveridentity", "true");
            p.put("mail.smtp.ssl.protocols", "TLSv1.3 TLSv1.2");
        }
        Session session = Session.getInstance(p);
        boolean transactionStarted = false;
        try {
            MimeMessage message = new IdentifiedMessage(session, messageId(n, s.from()));
            message.setFrom(new InternetAddress(s.from()));
            for (String to : s.to()) {
                message.addRecipient(Message.RecipientType.TO, new InternetAddress(to));
            }
            message.setSubject("[Switchboard] " + n.subject(), "UTF-8");
            message.setText(n.text() + "\n", "UTF-8");
            message.setSentDate(Date.from(n.at()));
            message.setHeader("X-Switchboard-Event", "monitor." + n.event().wireName());
            message.saveChanges();
            Transport transport = session.getTransport("smtp");
            try {
                // Connecting covers the greeting, EHLO, STARTTLS and AUTH: whatever fails there,
                // no mail transaction was started (RFC 5321 §3.3), so the server cannot have the message.
                if (s.username() != null) {
                    transport.connect(s.username(), s.password() == null ? "" : s.password());
                } else {
                    transport.connect();
                }
                transactionStarted = true;
                transport.sendMessage(message, message.getAllRecipients());
            } finally {
                closeQuietly(transport);
            }
        } catch (AuthenticationFailedException e) {
            String said = DeliveryFailureText.firstLine(e.getMessage());
            throw DeliveryException.refused("sending e-mail through " + s.host() + " failed: the SMTP server "
                    + (e.getMessage() == null || said.isEmpty() ? "" : "said " + said + ": it ")
                    + "refused the username or password", false);
        } catch (SendFailedException e) {
            if (connectionLost(e)) {
                // Angus reports a connection closed before the reply to "." as a send failure with
                // no reply code: the server may have taken the message (RFC 5321 §4.1.1.4), and
                // whether it did is not known, so it counts as possibly delivered and is retried.
                throw new DeliveryException("sending e-mail through " + s.host() + " failed: " + s.host() + " port " + s.port()
                        + " closed the connection before answering the message", true);
            }
            // The server answered a command with a refusal, the last one at the earliest the end of
            // DATA (RFC 5321 §4.1.1.4: the message is the server's only after its 250 there).
            throw DeliveryException.refused("sending e-mail through " + s.host() + " failed: " + refusal(e), isTransient(e));
        } catch (AddressException e) {
            throw DeliveryException.refused("an address is not valid: " + e.getMessage(), false);
        } catch (MessagingException e) {
            String message = e.getMessage() == null ? "" : e.getMessage();
            if (message.contains("STARTTLS is required")) {
                throw DeliveryException.refused("sending e-mail through " + s.host() + " failed: the SMTP server " + s.host()
                        + " port " + s.port() + " does not offer STARTTLS, which the channel requires (security: starttls);"
                        + " nothing was sent", false);
            }
            String why = "sending e-mail through " + s.host() + " failed: "
                    + DeliveryFailureText.network(e, s.host(), s.port(), timeout, true);
            // A failure after the transaction started (a timeout or a broken connection after
            // DATA above all) may come after the server took the message: possibly delivered.
            throw transactionStarted ? new DeliveryException(why, true) : DeliveryException.refused(why, true);
        }
    }

    /**
     * The Message-ID (RFC 5322 §3.6.4) of a notification with an identity: its id, which stays
     * the same however often the message is delivered (a retry, a copy sent again after a node
     * died), at {@code switchboard.} and the sender's domain, so a mail client or archive that
     * de-duplicates by Message-ID keeps one copy. Null (a new id from Angus Mail for every
     * attempt) for a message without an identity: a test message or a digest.
     */
    static String messageId(Notification n, String from) {
        if (n.id() == null) {
            return null;
        }
        // id-left is a dot-atom-text: a UUID's letters, digits and hyphens are atext
        return "<" + n.id().replaceAll("[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]", "") + "@" + idRight(from) + ">";
    }

    /** RFC 5322 §3.2.3 dot-atom-text: atext runs joined by single dots, none first or last. */
    private static final java.util.regex.Pattern DOT_ATOM_TEXT =
            java.util.regex.Pattern.compile("[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*");

    /** The id-right when the sender's domain cannot be one: a name reserved never to resolve (RFC 2606 §2). */
    static final String FALLBACK_ID_RIGHT = "switchboard.invalid";

    /**
     * The Message-ID's id-right: {@code switchboard.} and the sender's domain, when that is a
     * dot-atom-text once in ASCII (RFC 5322 §3.6.4 allows a no-fold-literal too, but an address
     * literal like {@code [192.0.2.1]} after "switchboard." would be neither). A domain in another
     * script is written in its ASCII form (IDNA, RFC 5891); one that is not valid as a domain, ends
     * in a dot or holds characters outside atext ({@code ()",;:}) gives {@link #FALLBACK_ID_RIGHT}.
     */
    static String idRight(String from) {
        int at = from.lastIndexOf('@');
        if (at < 0) {
            return FALLBACK_ID_RIGHT;
        }
        String domain;
        try {
            domain = java.net.IDN.toASCII(from.substring(at + 1).strip());
        } catch (IllegalArgumentException e) {
            return FALLBACK_ID_RIGHT;
        }
        return DOT_ATOM_TEXT.matcher(domain).matches() ? "switchboard." + domain : FALLBACK_ID_RIGHT;
    }

    /** A message whose Message-ID is set by the sender, not made anew by {@link MimeMessage#saveChanges}. */
    private static final class IdentifiedMessage extends MimeMessage {
        private final String id;

        IdentifiedMessage(Session session, String id) {
            super(session);
            this.id = id;
        }

        @Override
        protected void updateMessageID() throws MessagingException {
            if (id == null) {
                super.updateMessageID();
            } else {
                setHeader("Message-ID", id);
            }
        }
    }

    /** QUIT after the message was taken, or after a failure: its own failure changes nothing. */
    private static void closeQuietly(Transport transport) {
        try {
            transport.close();
        } catch (MessagingException e) {
            // the outcome was decided before QUIT
        }
    }

    /** No reply at all: the connection ended where a reply was due (Angus gives such a failure the code -1). */
    static boolean connectionLost(SendFailedException e) {
        for (Exception next = e; next != null;
                next = next instanceof MessagingException m ? m.getNextException() : null) {
            if (next instanceof SMTPSendFailedException f && f.getReturnCode() < 0
                    || next instanceof SMTPAddressFailedException a && a.getReturnCode() < 0
                    || next instanceof SMTPSenderFailedException s && s.getReturnCode() < 0) {
                return true;
            }
        }
        return false;
    }

    /** RFC 5321 §4.2.1: a 4yz reply (a full mailbox, greylisting) may succeed later; 5yz will not. */
    static boolean isTransient(SendFailedException e) {
        for (Exception next = e; next != null;
                next = next instanceof MessagingException m ? m.getNextException() : null) {
            int code = switch (next) {
                case SMTPAddressFailedException a -> a.getReturnCode();
                case SMTPSenderFailedException f -> f.getReturnCode();
                case SMTPSendFailedException f -> f.getReturnCode();
                default -> 0;
            };
            if (code != 0) {
                return code / 100 == 4;
            }
        }
        return false;
    }

    /**
     * What the server said when it refused the sender, a recipient or the message, with its reply
     * code (RFC 5321 §4.2: 5yz is a permanent refusal).
     */
    static String refusal(SendFailedException e) {
        for (Exception next = e; next != null;
                next = next instanceof MessagingException m ? m.getNextException() : null) {
            switch (next) {
                case SMTPAddressFailedException a -> {
                    return "the SMTP server said " + DeliveryFailureText.firstLine(a.getMessage()) + " for the recipient "
                            + a.getAddress();
                }
                case SMTPSenderFailedException f -> {
                    return "the SMTP server said " + DeliveryFailureText.firstLine(f.getMessage()) + " for the sender "
                            + f.getAddress();
                }
                case SMTPSendFailedException f -> {
                    return "the SMTP server said " + DeliveryFailureText.firstLine(f.getMessage()) + ": it refused the message";
                }
                default -> {
                }
            }
        }
        return "the SMTP server refused the message: " + DeliveryFailureText.firstLine(e.getMessage());
    }
}
