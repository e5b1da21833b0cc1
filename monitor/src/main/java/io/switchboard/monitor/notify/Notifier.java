package io.switchboard.monitor.notify;

import io.switchboard.monitor.definition.ChannelDefinition;

/** Delivers one notification over one kind of channel, once; retries are the dispatcher's. */
public interface Notifier {
    /**
     * @throws DeliveryException with a message that names no secret (tokens, passwords)
     */
    void send(ChannelDefinition channel, Notification notification) throws DeliveryException, InterruptedException;
}
