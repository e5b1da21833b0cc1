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
                throw new DeliveryException("the e-mail channel's caFile cannot be used: " + e.getMessage(), false);
            }
            p.put("mail.smtp.ssl.checkserveridentity", "true");
            p.put("mail.smtp.ssl.protocols", "TLSv1.3 TLSv1.2");
        }
        Session session = Session.getInstance(p);
        try {
            MimeMessage message = new MimeMessage(session);
            message.setFrom(new InternetAddress(s.from()));
            for (String to : s.to()) {
                message.addRecipient(Message.RecipientType.TO, new InternetAddress(to));
            }
            message.setSubject("[Switchboard] " + n.subject(), "UTF-8");
            message.setText(n.text() + "\n", "UTF-8");
            message.setSentDate(Date.from(n.at()));
            message.setHeader("X-Switchboard-Event", "monitor." + n.event().wireName());
            if (s.username() != null) {
                Transport.send(message, s.username(), s.password() == null ? "" : s.password());
            } else {
                Transport.send(message);
            }
        } catch (AuthenticationFailedException e) {
            throw new DeliveryException("the SMTP server " + s.host() + ":" + s.port() + " refused the username or password", false);
        } catch (SendFailedException e) {
            throw new DeliveryException("the SMTP server " + s.host() + ":" + s.port() + " refused the message: "
                    + firstLine(e.getMessage()), false);
        } catch (AddressException e) {
            throw new DeliveryException("an address is not valid: " + e.getMessage(), false);
        } catch (MessagingException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new DeliveryException("sending through " + s.host() + ":" + s.port() + " (" + s.security() + ") failed: "
                    + firstLine(e.getMessage()) + (cause != e ? " (" + cause.getClass().getSimpleName() + ": "
                    + firstLine(cause.getMessage()) + ")" : ""), true);
        }
    }

    private static String firstLine(String text) {
        if (text == null) {
            return "no reason given";
        }
        int nl = text.indexOf('\n');
        return (nl < 0 ? text : text.substring(0, nl)).strip();
    }
}
