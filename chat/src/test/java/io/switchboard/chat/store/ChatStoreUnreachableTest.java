package io.switchboard.chat.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.switchboard.platform.store.StoreFailure;
import java.lang.reflect.Proxy;
import java.sql.SQLTransientConnectionException;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.Test;

/** Creating a chat while the store is unreachable fails once, without a second transaction waiting out the same timeouts. */
class ChatStoreUnreachableTest {
    @Test
    void anUnreachableStoreIsNotAskedTwice() {
        AtomicInteger connections = new AtomicInteger();
        DataSource unreachable = (DataSource) Proxy.newProxyInstance(DataSource.class.getClassLoader(),
                new Class<?>[] {DataSource.class}, (proxy, method, args) -> {
                    if (method.getName().equals("getConnection")) {
                        connections.incrementAndGet();
                        throw new SQLTransientConnectionException("store-postgresql - Connection is not available,"
                                + " request timed out after 5000ms");
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
        ChatStore chats = new ChatStore(Jdbi.create(unreachable), Clock.systemUTC());
        assertThatThrownBy(() -> chats.create("anna", List.of("boris"), null, "key-1", "hash"))
                .satisfies(e -> assertThat(StoreFailure.kind(e)).contains(StoreFailure.Kind.UNREACHABLE));
        assertThat(connections).hasValue(1);
    }
}
