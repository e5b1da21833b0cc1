package io.switchboard.platform.bus;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LocalBusTest {
    record Said(String text) {
    }

    @Test
    void everySubscriberGetsEveryEventInOrderAndAFailingOneHarmsNoOther() {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        LocalBus bus = new LocalBus(meters);
        List<String> first = new ArrayList<>();
        List<String> second = new ArrayList<>();
        bus.subscribe("talk", Said.class, said -> first.add(said.text()));
        bus.subscribe("talk", Said.class, said -> {
            throw new IllegalStateException("broken handler");
        });
        Bus.Subscription last = bus.subscribe("talk", Said.class, said -> second.add(said.text()));
        bus.publish("talk", new Said("a"));
        bus.publish("talk", new Said("b"));
        bus.publish("other topic", new Said("c"));
        last.close();
        bus.publish("talk", new Said("d"));
        assertThat(first).containsExactly("a", "b", "d");
        assertThat(second).containsExactly("a", "b");
        assertThat(meters.get("switchboard.bus.handler.failures").counter().count()).isEqualTo(3);
    }

    @Test
    void anEventOfTheWrongTypeIsCountedNotDelivered() {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        LocalBus bus = new LocalBus(meters);
        List<Said> got = new ArrayList<>();
        bus.subscribe("talk", Said.class, got::add);
        bus.publish("talk", "a plain string");
        assertThat(got).isEmpty();
        assertThat(meters.get("switchboard.bus.handler.failures").counter().count()).isEqualTo(1);
    }
}
