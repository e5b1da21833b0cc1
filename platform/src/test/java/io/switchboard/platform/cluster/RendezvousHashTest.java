package io.switchboard.platform.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RendezvousHashTest {
    private static final List<String> THREE = List.of("node-a", "node-b", "node-c");

    @Test
    void noNodesOwnsNothingAndOneNodeOwnsEverything() {
        assertThat(RendezvousHash.owner("key", List.of())).isEmpty();
        assertThat(RendezvousHash.owner("key", List.of("solo"))).contains("solo");
    }

    @Test
    void theOwnerDoesNotDependOnTheOrderOfTheIds() {
        for (int i = 0; i < 500; i++) {
            String key = "monitor-" + i;
            assertThat(RendezvousHash.owner(key, THREE))
                    .isEqualTo(RendezvousHash.owner(key, THREE.reversed()));
        }
    }

    @Test
    void weightsAreFixedAcrossRuns() {
        // Nodes of different versions must agree: these values may never change.
        assertThat(RendezvousHash.weight("node-a", "web")).isEqualTo(RendezvousHash.weight("node-a", "web"));
        assertThat(RendezvousHash.weight("node-a", "web")).isNotEqualTo(RendezvousHash.weight("node-b", "web"));
        assertThat(RendezvousHash.owner("web", THREE)).isEqualTo(RendezvousHash.owner("web", List.of("node-c", "node-a", "node-b")));
    }

    @Test
    void keysSpreadEvenlyOverThreeNodes() {
        Map<String, Integer> counts = owners(THREE, 3000);
        assertThat(counts).hasSize(3);
        counts.values().forEach(count -> assertThat(count).isBetween(850, 1150));
    }

    @Test
    void whenANodeGoesOnlyItsKeysMove() {
        List<String> two = List.of("node-a", "node-c");
        int moved = 0;
        for (int i = 0; i < 3000; i++) {
            String key = "monitor-" + i;
            String before = RendezvousHash.owner(key, THREE).orElseThrow();
            String after = RendezvousHash.owner(key, two).orElseThrow();
            if (!before.equals("node-b")) {
                assertThat(after).as(key).isEqualTo(before);
            } else {
                moved++;
            }
        }
        assertThat(moved).isBetween(850, 1150);
    }

    @Test
    void aJoiningNodeTakesAboutItsShareFromTheOthers() {
        List<String> four = List.of("node-a", "node-b", "node-c", "node-d");
        int taken = 0;
        for (int i = 0; i < 4000; i++) {
            String key = "monitor-" + i;
            String before = RendezvousHash.owner(key, THREE).orElseThrow();
            String after = RendezvousHash.owner(key, four).orElseThrow();
            if (!after.equals(before)) {
                assertThat(after).isEqualTo("node-d");
                taken++;
            }
        }
        assertThat(taken).isBetween(850, 1150);
    }

    private static Map<String, Integer> owners(List<String> nodes, int keys) {
        Map<String, Integer> counts = new HashMap<>();
        for (int i = 0; i < keys; i++) {
            counts.merge(RendezvousHash.owner("monitor-" + i, nodes).orElseThrow(), 1, Integer::sum);
        }
        return counts;
    }
}
