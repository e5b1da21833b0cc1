package io.switchboard.platform.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class ReadinessTest {
    @Test
    void readyOnlyWhenNoCheckReportsAProblemAndNotDraining() {
        Readiness readiness = new Readiness();
        assertThat(readiness.isReady()).isTrue();

        readiness.register("store", Optional::empty);
        readiness.register("sip", () -> Optional.of("not bound"));
        readiness.register("bus", () -> {
            throw new IllegalStateException("boom");
        });
        assertThat(readiness.problems()).containsExactly(
                "sip: not bound", "bus: check failed: java.lang.IllegalStateException: boom");

        Readiness draining = new Readiness();
        draining.startDraining();
        assertThat(draining.isReady()).isFalse();
        assertThat(draining.problems()).containsExactly("node: draining (shutting down)");
    }

    @Test
    void namesAreUnique() {
        Readiness readiness = new Readiness();
        readiness.register("store", Optional::empty);
        assertThatThrownBy(() -> readiness.register("store", Optional::empty))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
