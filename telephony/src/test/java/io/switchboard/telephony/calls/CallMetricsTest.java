package io.switchboard.telephony.calls;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The names and values as Prometheus scrapes them at /metrics. */
class CallMetricsTest {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final CallMetrics metrics = new CallMetrics(registry);

    private List<String> samples() {
        return Arrays.stream(registry.scrape().split("\n")).filter(l -> !l.startsWith("#")).toList();
    }

    private double value(String series) {
        return samples().stream().filter(l -> l.startsWith(series + " "))
                .mapToDouble(l -> Double.parseDouble(l.substring(series.length() + 1).strip()))
                .findFirst().orElseThrow(() -> new AssertionError(series + " not in\n" + registry.scrape()));
    }

    @Test
    void everySeriesIsThereFromTheStart() {
        assertThat(value("switchboard_calls_active")).isZero();
        assertThat(value("switchboard_calls_started_total")).isZero();
        assertThat(value("switchboard_calls_answered_total")).isZero();
        for (String reason : CallMetrics.FAILURE_REASONS) {
            assertThat(value("switchboard_calls_failed_total{reason=\"" + reason + "\"}")).isZero();
        }
        assertThat(value("switchboard_call_duration_seconds_count")).isZero();
        assertThat(value("switchboard_call_setup_seconds_count")).isZero();
        assertThat(value("switchboard_call_records_dropped_total")).isZero();
        assertThat(registry.scrape()).doesNotContain("_total_total");
    }

    @Test
    void callsAreCountedAndTimed() {
        metrics.started();
        metrics.started();
        metrics.started();
        metrics.setup(Duration.ofMillis(40));
        metrics.answered();
        metrics.failed("busy");
        metrics.completed(Duration.ofSeconds(90));

        assertThat(value("switchboard_calls_active")).isEqualTo(1);
        assertThat(value("switchboard_calls_started_total")).isEqualTo(3);
        assertThat(value("switchboard_calls_answered_total")).isEqualTo(1);
        assertThat(value("switchboard_calls_failed_total{reason=\"busy\"}")).isEqualTo(1);
        assertThat(value("switchboard_calls_failed_total{reason=\"cancelled\"}")).isZero();

        assertThat(value("switchboard_call_duration_seconds_count")).isEqualTo(1);
        assertThat(value("switchboard_call_duration_seconds_sum")).isEqualTo(90);
        assertThat(value("switchboard_call_duration_seconds_bucket{le=\"60.0\"}")).isZero();
        assertThat(value("switchboard_call_duration_seconds_bucket{le=\"120.0\"}")).isEqualTo(1);
        assertThat(value("switchboard_call_duration_seconds_bucket{le=\"1.0\"}")).isZero();
        assertThat(value("switchboard_call_duration_seconds_bucket{le=\"7200.0\"}")).isEqualTo(1);

        assertThat(value("switchboard_call_setup_seconds_count")).isEqualTo(1);
        assertThat(value("switchboard_call_setup_seconds_bucket{le=\"0.025\"}")).isZero();
        assertThat(value("switchboard_call_setup_seconds_bucket{le=\"0.05\"}")).isEqualTo(1);
        assertThat(value("switchboard_call_setup_seconds_bucket{le=\"0.01\"}")).isZero();
        assertThat(value("switchboard_call_setup_seconds_bucket{le=\"60.0\"}")).isEqualTo(1);
    }

    @Test
    void anUnknownReasonCountsAsFailed() {
        metrics.started();
        metrics.failed("weird");
        assertThat(value("switchboard_calls_failed_total{reason=\"failed\"}")).isEqualTo(1);
        assertThat(registry.scrape()).doesNotContain("weird");
    }
}
