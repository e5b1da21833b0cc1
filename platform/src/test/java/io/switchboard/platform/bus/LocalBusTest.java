package io.switchboard.platform.bus;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LocalBusTest extends BusContract {
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final LocalBus bus = new LocalBus(meters);

    @Override
    Bus publisher() {
        return bus;
    }

    @Override
    Bus receiver() {
        return bus;
    }

    @Test
    void failuresAndWrongTypesAreCounted() {
        List<Said> got = new ArrayList<>();
        bus.subscribe("talk", Said.class, got::add);
        bus.subscribe("talk", Said.class, said -> {
            throw new IllegalStateException("broken");
        });
        bus.publish("talk", "a plain string");
        bus.publish("talk", new Said("x", 1));
        assertThat(got).containsExactly(new Said("x", 1));
        // the string failed both handlers' type check, the Said one handler
        assertThat(meters.get("switchboard.bus.handler.failures").counter().count()).isEqualTo(3);
    }
}
