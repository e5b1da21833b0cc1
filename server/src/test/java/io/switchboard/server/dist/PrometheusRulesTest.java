package io.switchboard.server.dist;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * dist/prometheus/switchboard-rules.yml: valid rules, each alert tested (firing on its trouble,
 * quiet on a near miss) by switchboard-rules.test.yml with promtool (Debian package prometheus).
 * That every meter the rules name exists on a node's /metrics is checked by NodeStartTest.
 */
class PrometheusRulesTest {
    static final Path RULES = DebianTool.DIST.resolve("prometheus/switchboard-rules.yml");
    static final Path TESTS = DebianTool.DIST.resolve("prometheus/switchboard-rules.test.yml");

    @TempDir
    Path dir;

    @Test
    void theRulesAreValidAndPassTheirTests() throws Exception {
        DebianTool promtool = DebianTool.require("promtool", "prometheus");
        DebianTool.Run check = promtool.run(RULES.getParent(), "check", "rules", RULES.getFileName().toString());
        assertThat(check.exitCode()).as(check.output()).isZero();
        DebianTool.Run test = promtool.run(TESTS.getParent(), "test", "rules", TESTS.getFileName().toString());
        assertThat(test.exitCode()).as(test.output()).isZero();
        assertThat(test.output()).contains("SUCCESS");
    }

    @Test
    void everyAlertHasATestInWhichItFires() throws Exception {
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        Set<String> alerts = new TreeSet<>();
        for (JsonNode group : yaml.readTree(RULES.toFile()).path("groups")) {
            for (JsonNode rule : group.path("rules")) {
                assertThat(rule.has("alert")).as("only alerting rules: %s", rule).isTrue();
                assertThat(rule.path("labels").path("severity").asText()).isIn("warning", "critical");
                assertThat(rule.path("annotations").has("summary")).as(rule.toString()).isTrue();
                assertThat(rule.path("annotations").has("description")).as(rule.toString()).isTrue();
                alerts.add(rule.path("alert").asText());
            }
        }
        Set<String> fired = new TreeSet<>();
        for (JsonNode test : yaml.readTree(TESTS.toFile()).path("tests")) {
            for (JsonNode expectation : test.path("alert_rule_test")) {
                if (!expectation.path("exp_alerts").isEmpty()) {
                    fired.add(expectation.path("alertname").asText());
                }
            }
        }
        assertThat(alerts).hasSizeGreaterThanOrEqualTo(15);
        assertThat(fired).isEqualTo(alerts);
    }

    @Test
    void theTestsNoticeAChangedRule() throws Exception {
        DebianTool promtool = DebianTool.require("promtool", "prometheus");
        String rules = Files.readString(RULES);
        // Calls failing at 25% must alert; a threshold moved above that must break the tests.
        String loosened = rules.replace("/ sum by (instance) (rate(switchboard_calls_started_total[15m])) > 0.2",
                "/ sum by (instance) (rate(switchboard_calls_started_total[15m])) > 0.3");
        assertThat(loosened).isNotEqualTo(rules);
        Files.writeString(dir.resolve(RULES.getFileName()), loosened);
        Files.copy(TESTS, dir.resolve(TESTS.getFileName()));
        DebianTool.Run test = promtool.run(dir, "test", "rules", TESTS.getFileName().toString());
        assertThat(test.exitCode()).as(test.output()).isNotZero();
        assertThat(test.output()).contains("alertname: SwitchboardCallFailureRatio");
    }
}
