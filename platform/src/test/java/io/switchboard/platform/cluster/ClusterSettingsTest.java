package io.switchboard.platform.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.switchboard.platform.config.ConfigException;
import io.switchboard.platform.config.ConfigSection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterSettingsTest {
    @TempDir
    Path dir;

    @Test
    void defaultsAreTwoSecondHeartbeatsAndSixSecondExpiry() {
        ClusterSettings settings = ClusterSettings.from(ConfigSection.empty("cluster"));
        assertThat(settings.nodeId()).isEmpty();
        assertThat(settings.heartbeat()).isEqualTo(Duration.ofSeconds(2));
        assertThat(settings.expiry()).isEqualTo(Duration.ofSeconds(6));
    }

    @Test
    void expiryMustExceedTwoHeartbeats() {
        assertThatThrownBy(() -> ClusterSettings.from(ConfigSection.of("cluster", Map.of("heartbeat", "2s", "expiry", "4s"))))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("cluster.expiry")
                .hasMessageContaining("more than twice cluster.heartbeat");
        assertThat(ClusterSettings.from(ConfigSection.of("cluster", Map.of("heartbeat", "1s"))).expiry())
                .isEqualTo(Duration.ofSeconds(3));
    }

    @Test
    void aTooShortExpirySaysWhereTheHeartbeatCameFrom() {
        var loader = new io.switchboard.platform.config.NodeConfigLoader(java.util.List.of());
        assertThatThrownBy(() -> ClusterSettings.from(loader.load(null, Map.of(
                        "SWITCHBOARD_CLUSTER_HEARTBEAT", "3s", "SWITCHBOARD_CLUSTER_EXPIRY", "5s"), Map.of()).section("cluster")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("more than twice cluster.heartbeat (from SWITCHBOARD_CLUSTER_HEARTBEAT), which is 3s, so");
        assertThatThrownBy(() -> ClusterSettings.from(loader.load(null, Map.of(
                        "SWITCHBOARD_CLUSTER_EXPIRY", "4s"), Map.of()).section("cluster")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("more than twice cluster.heartbeat, 2s by default, so");
    }

    @Test
    void nodeIdsAreCheckedAndTheEnvironmentSpellingWins() {
        assertThatThrownBy(() -> ClusterSettings.from(ConfigSection.of("cluster", Map.of("nodeId", "a b"))))
                .isInstanceOf(ConfigException.class).hasMessageContaining("cluster.nodeId");
        assertThatThrownBy(() -> ClusterSettings.from(ConfigSection.of("cluster", Map.of("nodeName", "x"))))
                .isInstanceOf(ConfigException.class).hasMessageContaining("unknown setting");
        assertThat(ClusterSettings.from(ConfigSection.of("cluster", Map.of("nodeId", "from-file", "nodeid", "from-env")))
                .nodeId()).contains("from-env");
    }

    /** The environment's spelling nodeid is read but not offered: the list named nodeId twice. */
    @Test
    void aTypoListsTheSettingsOnceEach() {
        assertThatThrownBy(() -> ClusterSettings.from(ConfigSection.of("cluster", Map.of("hearbeat", "2s"))))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("cluster.hearbeat: unknown setting; cluster has [nodeId, heartbeat, expiry]");
    }

    @Test
    void aGeneratedIdIsKeptInTheDataDirectory() throws Exception {
        String first = NodeIdentity.resolve(ClusterSettings.defaults(), dir);
        assertThat(first).matches(ClusterSettings.NODE_ID.pattern()).matches(".+-[0-9a-f]{6}");
        assertThat(NodeIdentity.resolve(ClusterSettings.defaults(), dir)).isEqualTo(first);
        assertThat(Files.readString(dir.resolve(NodeIdentity.FILE)).strip()).isEqualTo(first);
        ClusterSettings configured = new ClusterSettings(Optional.of("gw-1"), Duration.ofSeconds(2), Duration.ofSeconds(6));
        assertThat(NodeIdentity.resolve(configured, dir)).isEqualTo("gw-1");
        Files.writeString(dir.resolve(NodeIdentity.FILE), "not an id!\n");
        assertThatThrownBy(() -> NodeIdentity.resolve(ClusterSettings.defaults(), dir))
                .isInstanceOf(ConfigException.class).hasMessageContaining("not a node id");
    }
}
