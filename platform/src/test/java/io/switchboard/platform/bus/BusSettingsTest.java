package io.switchboard.platform.bus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.switchboard.platform.config.ConfigException;
import io.switchboard.platform.config.ConfigSection;
import java.net.URI;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BusSettingsTest {
    private static BusSettings parse(Object url) {
        return BusSettings.from(ConfigSection.of("bus", Map.of("url", url))).orElseThrow();
    }

    @Test
    void oneBrokerOrSeveralAsACommaListOrAYamlList() {
        assertThat(parse("amqp://rabbit:5672/sb").urls()).containsExactly(URI.create("amqp://rabbit:5672/sb"));
        BusSettings two = parse("amqp://r1:5672/sb, amqp://r2:5673/sb");
        assertThat(two.urls()).containsExactly(URI.create("amqp://r1:5672/sb"), URI.create("amqp://r2:5673/sb"));
        assertThat(two.virtualHost()).isEqualTo("sb");
        assertThat(parse(List.of("amqp://r1/", "amqp://r2/")).urls()).hasSize(2);
        assertThat(BusSettings.from(ConfigSection.of("bus", Map.of()))).isEmpty();
    }

    @Test
    void brokersMustAgreeOnSchemeAndVirtualHost() {
        assertThatThrownBy(() -> parse("amqp://r1:5672/a,amqp://r2:5672/b"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("bus.url").hasMessageContaining("virtual host");
        assertThatThrownBy(() -> parse("amqp://r1:5672/,amqps://r2:5671/"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("scheme");
        assertThatThrownBy(() -> parse("amqp://r1:5672/,http://r2/"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("not an amqp://");
    }

    @Test
    void lingerIsADurationUpTo200msAndNoneByDefault() {
        java.util.function.Function<String, BusSettings> withLinger = linger -> BusSettings.from(
                ConfigSection.of("bus", Map.of("url", "amqp://rabbit/", "linger", linger))).orElseThrow();
        assertThat(parse("amqp://rabbit/").linger()).isZero();
        assertThat(withLinger.apply("30ms").linger()).isEqualTo(java.time.Duration.ofMillis(30));
        assertThat(withLinger.apply("0").linger()).isZero();
        assertThatThrownBy(() -> withLinger.apply("1s")).isInstanceOf(ConfigException.class)
                .hasMessageContaining("bus.linger").hasMessageContaining("outside 0s..200ms");
        assertThatThrownBy(() -> withLinger.apply("30")).isInstanceOf(ConfigException.class)
                .hasMessageContaining("bus.linger").hasMessageContaining("not a duration");
    }
}
