package io.switchboard.server.telephony;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The call meters of a node as /metrics shows them at one moment. Tests read a snapshot before a
 * call and one after, and assert the difference, so they hold on a node other tests share.
 */
public final class CallMeters {
    public static final String ACTIVE = "switchboard_calls_active";
    public static final String STARTED = "switchboard_calls_started_total";
    public static final String ANSWERED = "switchboard_calls_answered_total";
    public static final String DURATION_COUNT = "switchboard_call_duration_seconds_count";
    public static final String SETUP_COUNT = "switchboard_call_setup_seconds_count";
    public static final String TRANSACTIONS = "switchboard_sip_transactions";

    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private final Map<String, Double> samples;

    private CallMeters(Map<String, Double> samples) {
        this.samples = samples;
    }

    /** Reads /metrics of the node at {@code httpBaseUrl} ("http://127.0.0.1:PORT"). */
    public static CallMeters read(String httpBaseUrl) {
        HttpResponse<String> response;
        try {
            response = HTTP.send(HttpRequest.newBuilder(URI.create(httpBaseUrl + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        assertThat(response.statusCode()).isEqualTo(200);
        Map<String, Double> samples = new HashMap<>();
        for (String line : response.body().split("\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int space = line.lastIndexOf(' ');
            samples.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
        }
        return new CallMeters(samples);
    }

    /** A sample by its full name with labels, e.g. {@code switchboard_calls_failed_total{reason="busy"}}. */
    public double value(String sample) {
        Double value = samples.get(sample);
        assertThat(value).as("%s at /metrics", sample).isNotNull();
        return value;
    }

    public double active() {
        return value(ACTIVE);
    }

    public static String failed(String reason) {
        return "switchboard_calls_failed_total{reason=\"" + reason + "\"}";
    }

    /** How much {@code sample} grew from {@code before} to this snapshot. */
    public double since(CallMeters before, String sample) {
        return value(sample) - before.value(sample);
    }

    /** The growth of every failure reason, for assertions that exactly one reason moved. */
    public Map<String, Double> failuresSince(CallMeters before) {
        Map<String, Double> grown = new HashMap<>();
        for (String reason : new String[]{"busy", "cancelled", "not_found", "unavailable", "no_answer", "rejected", "declined",
                "error", "failed"}) {
            double delta = since(before, failed(reason));
            if (delta != 0) {
                grown.put(reason, delta);
            }
        }
        return grown;
    }

    /**
     * Asserts the meters of one answered call that has ended: started, answered, no failure, one
     * talk time and one setup time observed, and no call left active (by the gauge's delta, since
     * other calls may share the node).
     */
    public void assertOneCompletedCallSince(CallMeters before) {
        assertThat(since(before, STARTED)).as(STARTED).isEqualTo(1);
        assertThat(since(before, ANSWERED)).as(ANSWERED).isEqualTo(1);
        assertThat(failuresSince(before)).as("switchboard_calls_failed_total").isEmpty();
        assertThat(since(before, DURATION_COUNT)).as(DURATION_COUNT).isEqualTo(1);
        assertThat(since(before, SETUP_COUNT)).as(SETUP_COUNT).isEqualTo(1);
        assertThat(since(before, ACTIVE)).as(ACTIVE).isZero();
    }

    /**
     * Asserts the meters of one call that ended unanswered for {@code reason}: started, not answered,
     * that one failure reason up by one, no talk time, and no call left active. Setup is observed
     * only when something rang, so {@code rang} says whether it moves.
     */
    public void assertOneFailedCallSince(CallMeters before, String reason, boolean rang) {
        assertThat(since(before, STARTED)).as(STARTED).isEqualTo(1);
        assertThat(since(before, ANSWERED)).as(ANSWERED).isZero();
        assertThat(failuresSince(before)).as("switchboard_calls_failed_total").isEqualTo(Map.of(reason, 1.0));
        assertThat(since(before, DURATION_COUNT)).as(DURATION_COUNT).isZero();
        assertThat(since(before, SETUP_COUNT)).as(SETUP_COUNT).isEqualTo(rang ? 1 : 0);
        assertThat(since(before, ACTIVE)).as(ACTIVE).isZero();
    }
}
