package io.switchboard.chat.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.chat.store.MessageWriter;
import io.switchboard.platform.http.ApiProblem;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import org.junit.jupiter.api.Test;

/** How a send the writer failed is answered: retry only what will pass, and never say "not stored" when unsure. */
class UnstoredMessageAnswerTest {
    @Test
    void aFailureThatWillNotPassIsNotAnsweredWithRetryAfter() {
        IllegalStateException bug = new IllegalStateException("storing messages failed",
                new SQLException("null value in column \"body\"", "23502"));
        assertThat(ChatApi.unstored(bug)).isSameAs(bug);
        assertThat(ChatApi.unstored(new SQLException("checked"))).isNotInstanceOf(ApiProblem.class);
    }

    @Test
    void anUnreachableStoreIs503WithItsRetryAfter() {
        RuntimeException answer = ChatApi.unstored(new IllegalStateException("x",
                new SQLTransientConnectionException("pool timed out")));
        assertThat(answer).isInstanceOfSatisfying(ApiProblem.class, problem -> {
            assertThat(problem.status()).isEqualTo(503);
            assertThat(problem.headers()).containsEntry("Retry-After", "5");
            assertThat(problem.detail()).contains("not stored");
        });
    }

    @Test
    void aCommitWithoutAnAnswerIsMayHaveBeenStored() {
        RuntimeException answer = ChatApi.unstored(new MessageWriter.OutcomeUnknown(
                new SQLException("An I/O error occurred while sending to the backend.", "08006")));
        assertThat(answer).isInstanceOfSatisfying(ApiProblem.class, problem -> {
            assertThat(problem.status()).isEqualTo(503);
            assertThat(problem.detail()).contains("may have been stored").doesNotContain("not stored");
            assertThat(problem.headers()).containsEntry("Retry-After", "5");
        });
    }
}
