package io.switchboard.monitor.report;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ReportWordingTest {
    @Test
    void aRewriteNamesTheMonitorInWholeWords() {
        assertThat(ReportRewriter.names("The API gateway is down since 18:40.", "api-gateway")).isTrue();
        assertThat(ReportRewriter.names("rs is down.", "rs")).isTrue();
        assertThat(ReportRewriter.names("Shop (shop.example.org) answers again", "shop.example.org")).isTrue();
        // a name inside other words is not named: the model dropped it
        assertThat(ReportRewriter.names("All users and servers are fine now.", "rs")).isFalse();
        assertThat(ReportRewriter.names("The gateway is down.", "api-gateway")).isFalse();
        assertThat(ReportRewriter.names("Door 2 is down.", "door-12")).isFalse();
    }

    @Test
    void aSentenceStartingWithANameKeepsTheNamesCase() {
        assertThat(ReportTemplate.sentence("the server answered HTTP 503")).isEqualTo("The server answered HTTP 503.");
        assertThat(ReportTemplate.sentence("walk.test A is 127.0.0.1; expected 10.0.0.1"))
                .isEqualTo("walk.test A is 127.0.0.1; expected 10.0.0.1.");
        assertThat(ReportTemplate.sentence("10.0.0.5:5060 did not answer.")).isEqualTo("10.0.0.5:5060 did not answer.");
        assertThat(ReportTemplate.sentence("timeout: no answer in 10 s")).isEqualTo("Timeout: no answer in 10 s.");
        assertThat(ReportTemplate.sentence("couldn't connect")).isEqualTo("Couldn't connect.");
    }
}
