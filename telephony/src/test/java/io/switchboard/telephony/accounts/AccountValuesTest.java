package io.switchboard.telephony.accounts;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The 400 details of bad account values (POST /api/v1/accounts passes them on) quote a long value by its start only. */
class AccountValuesTest {
    @Test
    void aLongBadUsernameIsQuotedByItsStartAndLength() {
        assertThatThrownBy(() -> AccountStore.validUsername("u!".repeat(25_000)))
                .isInstanceOf(AccountException.class)
                .hasMessage("username must be 1-64 letters, digits or . _ ~ + - (got '" + "u!".repeat(32)
                        + "… (50000 characters)')");
    }

    @Test
    void aLongBadDomainIsQuotedByItsStartAndLength() {
        assertThatThrownBy(() -> AccountStore.validDomain("d/".repeat(25_000)))
                .hasMessage("domain must be a host name (got '" + "d/".repeat(32) + "… (50000 characters)')");
    }
}
