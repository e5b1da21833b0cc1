package io.switchboard.platform.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.SQLExceptionOverride.Override;
import java.sql.SQLException;
import org.junit.jupiter.api.Test;

class PrimaryOnlyEvictionTest {
    private final PrimaryOnlyEviction eviction = new PrimaryOnlyEviction();

    @Test
    void aConnectionToAServerThatBecameReadOnlyIsEvictedOthersAreLeftToHikari() {
        assertThat(eviction.adjudicate(new SQLException("cannot execute INSERT in a read-only transaction", "25006")))
                .isEqualTo(Override.MUST_EVICT);
        SQLException wrapped = new SQLException("batch failed", "XX000",
                new SQLException("cannot execute UPDATE in a read-only transaction", "25006"));
        assertThat(eviction.adjudicate(wrapped)).isEqualTo(Override.MUST_EVICT);
        assertThat(eviction.adjudicate(new SQLException("duplicate key", "23505"))).isEqualTo(Override.CONTINUE_EVICT);
        assertThat(eviction.adjudicate(new SQLException("connection refused", "08001"))).isEqualTo(Override.CONTINUE_EVICT);
    }
}
