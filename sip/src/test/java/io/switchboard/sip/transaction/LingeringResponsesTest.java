package io.switchboard.sip.transaction;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LingeringResponsesTest {
    private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
    private static final InetSocketAddress PHONE = new InetSocketAddress("127.0.0.1", 5062);

    private static byte[] response(String tag, int size) {
        StringBuilder text = new StringBuilder("SIP/2.0 200 OK\r\nTo: <sip:a@b>;tag=" + tag + "\r\n");
        while (text.length() < size) {
            text.append('x');
        }
        return text.toString().getBytes(StandardCharsets.US_ASCII);
    }

    private void advanceMillis(long millis) {
        nanos.addAndGet(millis * 1_000_000L);
    }

    @Test
    void keepsTheResponseAndWhereItWentUntilTimerJ() throws Exception {
        LingeringResponses table = new LingeringResponses(32_000, 1 << 20, nanos::get);
        byte[] ok = response("t1", 300);
        InetSocketAddress v6 = new InetSocketAddress(InetAddress.getByName("::1"), 5070);
        assertThat(table.add("z9hG4bK-1|127.0.0.1:5062|REGISTER", PHONE, ok)).isTrue();
        assertThat(table.add("z9hG4bK-2|[::1]:5070|OPTIONS", v6, response("t2", 200))).isTrue();

        LingeringResponses.Found found = table.find("z9hG4bK-1|127.0.0.1:5062|REGISTER");
        assertThat(found.response()).isEqualTo(ok);
        assertThat(found.target()).isEqualTo(PHONE);
        assertThat(table.find("z9hG4bK-2|[::1]:5070|OPTIONS").target()).isEqualTo(v6);
        assertThat(table.find("z9hG4bK-1|127.0.0.1:5062|OPTIONS")).as("another method, another transaction").isNull();
        assertThat(table.size()).isEqualTo(2);

        advanceMillis(31_999);
        assertThat(table.find("z9hG4bK-1|127.0.0.1:5062|REGISTER")).isNotNull();
        advanceMillis(1);
        assertThat(table.find("z9hG4bK-1|127.0.0.1:5062|REGISTER")).isNull();
        assertThat(table.size()).isZero();
    }

    @Test
    void manyEntriesGrowTheTableAndStayFindable() {
        LingeringResponses table = new LingeringResponses(32_000, 64 << 20, nanos::get);
        int count = 50_000;
        for (int i = 0; i < count; i++) {
            assertThat(table.add("branch-" + i + "|127.0.0.1:5062|REGISTER", PHONE, response("t" + i, 150 + i % 400)))
                    .isTrue();
        }
        assertThat(table.size()).isEqualTo(count);
        for (int i = 0; i < count; i += 7) {
            byte[] stored = table.find("branch-" + i + "|127.0.0.1:5062|REGISTER").response();
            assertThat(stored).isEqualTo(response("t" + i, 150 + i % 400));
        }
        assertThat(table.find("branch-" + count + "|127.0.0.1:5062|REGISTER")).isNull();
    }

    @Test
    void atTheMemoryLimitTheOldestGoFirstAndTheRestStayIntact() {
        // 16 shards of 16 KiB each: about 256 KiB in all, far less than 5,000 records of 500 bytes
        LingeringResponses table = new LingeringResponses(32_000, 256 << 10, nanos::get);
        int count = 5_000;
        for (int i = 0; i < count; i++) {
            advanceMillis(1);
            table.add("b" + i + "|127.0.0.1:5062|REGISTER", PHONE, response("t" + i, 300 + i % 200));
        }
        assertThat(table.size()).isBetween(300, 1_000);
        assertThat(table.find("b0|127.0.0.1:5062|REGISTER")).as("the oldest left early").isNull();
        int found = 0;
        for (int i = 0; i < count; i++) {
            LingeringResponses.Found entry = table.find("b" + i + "|127.0.0.1:5062|REGISTER");
            if (entry != null) {
                found++;
                assertThat(entry.response()).isEqualTo(response("t" + i, 300 + i % 200));
            }
        }
        assertThat(found).isEqualTo(table.size());
        assertThat(table.find("b" + (count - 1) + "|127.0.0.1:5062|REGISTER")).as("the newest stays").isNotNull();
    }

    @Test
    void wrapsAroundTheArenaOverAndOverAsEntriesExpire() {
        LingeringResponses table = new LingeringResponses(100, 256 << 10, nanos::get);
        for (int i = 0; i < 20_000; i++) {
            advanceMillis(1);
            String key = "w" + i + "|127.0.0.1:5062|OPTIONS";
            byte[] bytes = response("t" + i, 200 + (i * 37) % 700);
            assertThat(table.add(key, PHONE, bytes)).isTrue();
            assertThat(table.find(key).response()).isEqualTo(bytes);
            if (i >= 100) {
                assertThat(table.find("w" + (i - 100) + "|127.0.0.1:5062|OPTIONS")).as("expired").isNull();
            }
        }
        assertThat(table.size()).isLessThanOrEqualTo(100);
    }

    @Test
    void refusesWhatItCannotKeepSoTheTransactionStays() throws Exception {
        LingeringResponses table = new LingeringResponses(32_000, 256 << 10, nanos::get);
        InetSocketAddress scoped = new InetSocketAddress(InetAddress.getByName("fe80::1%1"), 5060);
        assertThat(table.add("k|[fe80::1]:5060|OPTIONS", scoped, response("t", 200))).isFalse();
        assertThat(table.add("k|127.0.0.1:5062|OPTIONS", PHONE, new byte[40_000])).as("larger than a shard").isFalse();
        assertThat(table.size()).isZero();
    }
}
