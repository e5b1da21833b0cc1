package io.switchboard.platform.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.switchboard.platform.http.ApiProblem;
import org.junit.jupiter.api.Test;

class PersonRulesTest {
    @Test
    void userNamesAreFoldedInAsciiOnly() {
        assertThat(PersonRules.username("  Anna.B_2 ")).isEqualTo("anna.b_2");
        assertThat(PersonRules.fold("KARL")).isEqualTo("karl");
        // the Kelvin sign lower-cases to "k" in full Unicode; here it stays, and is no user name
        assertThat(PersonRules.fold("\u212Aarl")).isEqualTo("\u212Aarl");
        assertThatThrownBy(() -> PersonRules.username("\u212Aarl"))
                .isInstanceOfSatisfying(ApiProblem.class, problem -> assertThat(problem.status()).isEqualTo(400));
        assertThatThrownBy(() -> PersonRules.username("\u0130van"))
                .isInstanceOfSatisfying(ApiProblem.class, problem -> assertThat(problem.status()).isEqualTo(400));
    }

    @Test
    void aDisplayNameShowsSomethingAndInTheOrderWritten() {
        assertThat(PersonRules.displayName(" Anna, flat 42 ")).isEqualTo("Anna, flat 42");
        assertThat(PersonRules.displayName(null)).isNull();
        // blank and empty are refused as invisible characters are, not taken as "no name"
        for (String blank : new String[] {"", "   ", "\u00a0"}) {
            assertThatThrownBy(() -> PersonRules.displayName(blank))
                    .isInstanceOfSatisfying(ApiProblem.class, problem -> assertThat(problem.detail()).contains("shows nothing"));
        }
        assertThatThrownBy(() -> PersonRules.displayName("\u200b\u200b"))
                .isInstanceOfSatisfying(ApiProblem.class, problem -> assertThat(problem.detail()).contains("shows nothing"));
        assertThatThrownBy(() -> PersonRules.displayName("Anna\u202enimda"))
                .isInstanceOfSatisfying(ApiProblem.class, problem -> assertThat(problem.detail()).contains("U+202E"));
    }
}
