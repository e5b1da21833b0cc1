package io.switchboard.sip.transaction;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.LongSupplier;

/**
 * The final responses of non-INVITE server transactions over UDP while they wait out Timer J
 * (RFC 3261 §17.2.2: 64*T1 in Completed, the response resent for every retransmission of the
 * request), kept as bytes in a few large arrays instead of as transaction objects.
 * <p>
 * Why: a registrar taking 8,000 REGISTERs a second with digest auth completes 16,000 transactions
 * a second, so half a million linger at once. As objects (the transaction, its key, its timer, its
 * response bytes, its flow) every one survives several young collections and is copied by each; the
 * collector's pauses then grow past the peers' retransmission timer. Here a lingering transaction
 * is a few array slots and a record in an arena, and the collector has nothing to copy.
 * <p>
 * Every entry lives equally long and entries are added in time order, so each shard is a FIFO ring:
 * the oldest entry leaves first, when it expires or when the shard is at its size limit. Evicted
 * early, a transaction's late retransmission is handled as a new request (Kamailio's tm keeps
 * non-INVITE transactions only 5 s for the same reason). Lookup is a hash chain through entry
 * sequence numbers: a chain ends at the first sequence older than the ring's head, so eviction
 * never has to unlink anything.
 */
final class LingeringResponses {
    private static final int SHARDS = 16;
    private static final int INITIAL_ENTRIES = 64;
    private static final int INITIAL_BYTES = 16 * 1024;
    /**
     * What one entry costs at least: a small record (128 bytes) and its slots in the seven index
     * arrays (44 bytes), so the entry arrays are bounded by the byte budget too.
     */
    private static final int MIN_ENTRY_BYTES = 128 + 44;
    /** Keeps {@code usedBytes + span} far from int overflow whatever budget is given. */
    private static final int MAX_SHARD_BYTES = 256 << 20;
    /**
     * Chain steps a lookup takes at most. Keys come from the network: should someone find many
     * branch values in one bucket despite the per-process seed, a lookup stays bounded (a very
     * late retransmission is then handled as a new request) instead of walking the whole chain
     * under the shard's lock.
     */
    private static final int MAX_CHAIN_STEPS = 32;

    /** A stored response and the address it was first sent to (§18.2.2). */
    record Found(InetSocketAddress target, byte[] response) {
    }

    private final Shard[] shards = new Shard[SHARDS];
    /** Per-process hash seed, so colliding keys cannot be prepared in advance. */
    private final long seed = new java.security.SecureRandom().nextLong();
    private final long lifetimeNanos;
    private final LongSupplier nanoClock;

    /**
     * @param lifetimeMillis how long a response is kept (Timer J)
     * @param maxBytes       the most memory all records together may take; past it the oldest go early
     * @param nanoClock      a monotonic clock in nanoseconds ({@code System::nanoTime})
     */
    LingeringResponses(long lifetimeMillis, long maxBytes, LongSupplier nanoClock) {
        this.lifetimeNanos = lifetimeMillis * 1_000_000L;
        this.nanoClock = nanoClock;
        int shardBytes = (int) Math.min(MAX_SHARD_BYTES, Math.max(INITIAL_BYTES, maxBytes / SHARDS));
        for (int i = 0; i < SHARDS; i++) {
            shards[i] = new Shard(shardBytes);
        }
    }

    /**
     * Keeps {@code response} for the transaction {@code key}. Returns false when it cannot be kept
     * here (a scoped IPv6 target, a record larger than a shard): the caller keeps the transaction.
     */
    boolean add(String key, InetSocketAddress target, byte[] response) {
        InetAddress address = target.getAddress();
        if (address == null || (address instanceof Inet6Address v6 && v6.getScopeId() != 0)) {
            return false;
        }
        byte[] keyBytes = key.getBytes(StandardCharsets.UTF_8);
        if (keyBytes.length > 0xFFFF) {
            return false;
        }
        long hash = hash(seed, keyBytes);
        return shard(hash).add(hash, keyBytes, address.getAddress(), target.getPort(), response);
    }

    /** The response kept for {@code key}, or null when there is none (never kept, or expired). */
    Found find(String key) {
        byte[] keyBytes = key.getBytes(StandardCharsets.UTF_8);
        long hash = hash(seed, keyBytes);
        return shard(hash).find(hash, keyBytes);
    }

    /** Responses kept now; expired ones are dropped first. */
    int size() {
        int total = 0;
        for (Shard shard : shards) {
            total += shard.size();
        }
        return total;
    }

    private Shard shard(long hash) {
        return shards[(int) (hash >>> 60)];
    }

    /** Forgets every response and gives the memory back; the layer is stopping. */
    void clear() {
        for (Shard shard : shards) {
            shard.clear();
        }
    }

    /**
     * FNV-1a over the bytes from a seeded start, then MurmurHash3's finalizer so the high bits
     * (shard) and low bits (bucket) both mix.
     */
    static long hash(long seed, byte[] bytes) {
        long h = 0xcbf29ce484222325L ^ seed;
        for (byte b : bytes) {
            h ^= b & 0xFF;
            h *= 0x100000001b3L;
        }
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        h ^= h >>> 33;
        return h;
    }

    /**
     * One lock's worth of entries. Entry {@code seq} lives in slot {@code seq & mask}; live entries
     * are {@code [headSeq, tailSeq)}. Its record in the arena is {@code keyLength(2) key
     * addressLength(1) address port(2) response}; {@code spans} also counts the arena's tail it
     * skipped when the record wrapped to offset 0, so {@code usedBytes} is the live circular region
     * ending at {@code writePos}.
     */
    private final class Shard {
        private final int maxBytes;
        private final int maxEntries;
        private long[] hashes = new long[INITIAL_ENTRIES];
        private long[] deadlines = new long[INITIAL_ENTRIES];
        private long[] next = new long[INITIAL_ENTRIES];
        private int[] offsets = new int[INITIAL_ENTRIES];
        private int[] lengths = new int[INITIAL_ENTRIES];
        private int[] spans = new int[INITIAL_ENTRIES];
        /** Per bucket, the newest entry's sequence; chains run from newer to older. 0: none. */
        private long[] buckets = new long[INITIAL_ENTRIES];
        private long headSeq = 1;
        private long tailSeq = 1;
        private byte[] arena = new byte[INITIAL_BYTES];
        private int writePos;
        private int usedBytes;

        Shard(int maxBytes) {
            this.maxBytes = maxBytes;
            this.maxEntries = Math.max(INITIAL_ENTRIES, Integer.highestOneBit(maxBytes / MIN_ENTRY_BYTES));
        }

        private int mask() {
            return hashes.length - 1;
        }

        synchronized boolean add(long hash, byte[] key, byte[] address, int port, byte[] response) {
            int need = 2 + key.length + 1 + address.length + 2 + response.length;
            if (need > maxBytes) {
                return false;
            }
            long now = nanoClock.getAsLong();
            evictExpired(now);
            if (tailSeq - headSeq == hashes.length) {
                if (hashes.length < maxEntries) {
                    growEntries();
                } else {
                    evictHead();
                }
            }
            int slot = (int) (tailSeq & mask());
            int at = reserve(need, slot);
            hashes[slot] = hash;
            deadlines[slot] = now + lifetimeNanos;
            offsets[slot] = at;
            lengths[slot] = need;
            int bucket = (int) (hash & mask());
            next[slot] = buckets[bucket];
            buckets[bucket] = tailSeq;
            tailSeq++;
            write(at, key, address, port, response);
            return true;
        }

        /**
         * Finds room for a record of {@code need} bytes at the ring's write position, growing the
         * arena up to its limit and then evicting the oldest entries. Returns the record's offset and
         * sets the span of the entry that will live in {@code slot} (free: the ring is not full).
         */
        private int reserve(int need, int slot) {
            while (true) {
                int at = writePos;
                int span = need;
                if (at + need > arena.length) {
                    span = need + (arena.length - at); // the skipped tail counts until the record leaves
                    at = 0;
                }
                if (usedBytes + span <= arena.length) {
                    spans[slot] = span;
                    usedBytes += span;
                    writePos = at + need;
                    return at;
                }
                if (arena.length < maxBytes) {
                    growArena(need);
                } else {
                    evictHead(); // at least one entry is live: an empty ring always has room for need <= maxBytes
                }
            }
        }

        private void write(int at, byte[] key, byte[] address, int port, byte[] response) {
            byte[] a = arena;
            a[at] = (byte) (key.length >>> 8);
            a[at + 1] = (byte) key.length;
            System.arraycopy(key, 0, a, at + 2, key.length);
            int p = at + 2 + key.length;
            a[p] = (byte) address.length;
            System.arraycopy(address, 0, a, p + 1, address.length);
            p += 1 + address.length;
            a[p] = (byte) (port >>> 8);
            a[p + 1] = (byte) port;
            System.arraycopy(response, 0, a, p + 2, response.length);
        }

        synchronized Found find(long hash, byte[] key) {
            evictExpired(nanoClock.getAsLong());
            int mask = mask();
            int steps = 0;
            for (long seq = buckets[(int) (hash & mask)]; seq >= headSeq && steps < MAX_CHAIN_STEPS;
                    seq = next[(int) (seq & mask)], steps++) {
                int slot = (int) (seq & mask);
                if (hashes[slot] == hash && keyMatches(offsets[slot], key)) {
                    return read(offsets[slot], lengths[slot]);
                }
            }
            return null;
        }

        private boolean keyMatches(int at, byte[] key) {
            int length = ((arena[at] & 0xFF) << 8) | (arena[at + 1] & 0xFF);
            return length == key.length && Arrays.equals(arena, at + 2, at + 2 + length, key, 0, length);
        }

        private Found read(int at, int length) {
            int keyLength = ((arena[at] & 0xFF) << 8) | (arena[at + 1] & 0xFF);
            int p = at + 2 + keyLength;
            int addressLength = arena[p] & 0xFF;
            byte[] address = Arrays.copyOfRange(arena, p + 1, p + 1 + addressLength);
            p += 1 + addressLength;
            int port = ((arena[p] & 0xFF) << 8) | (arena[p + 1] & 0xFF);
            p += 2;
            byte[] response = Arrays.copyOfRange(arena, p, at + length);
            try {
                return new Found(new InetSocketAddress(InetAddress.getByAddress(address), port), response);
            } catch (UnknownHostException e) {
                throw new IllegalStateException("a stored address of " + addressLength + " bytes", e);
            }
        }

        /** Forgets every entry and gives the memory back (the layer stops). */
        synchronized void clear() {
            hashes = new long[INITIAL_ENTRIES];
            deadlines = new long[INITIAL_ENTRIES];
            next = new long[INITIAL_ENTRIES];
            offsets = new int[INITIAL_ENTRIES];
            lengths = new int[INITIAL_ENTRIES];
            spans = new int[INITIAL_ENTRIES];
            buckets = new long[INITIAL_ENTRIES];
            headSeq = tailSeq;
            arena = new byte[INITIAL_BYTES];
            writePos = 0;
            usedBytes = 0;
        }

        synchronized int size() {
            evictExpired(nanoClock.getAsLong());
            return (int) (tailSeq - headSeq);
        }

        private void evictExpired(long now) {
            int mask = mask();
            while (headSeq < tailSeq && deadlines[(int) (headSeq & mask)] - now <= 0) {
                evictHead();
            }
        }

        private void evictHead() {
            usedBytes -= spans[(int) (headSeq & mask())];
            headSeq++;
            if (headSeq == tailSeq) {
                usedBytes = 0;
                writePos = 0;
            }
        }

        /** Doubles the entry arrays; every live entry moves to its slot under the wider mask. */
        private void growEntries() {
            int capacity = hashes.length * 2;
            int oldMask = mask();
            int newMask = capacity - 1;
            long[] newHashes = new long[capacity];
            long[] newDeadlines = new long[capacity];
            long[] newNext = new long[capacity];
            int[] newOffsets = new int[capacity];
            int[] newLengths = new int[capacity];
            int[] newSpans = new int[capacity];
            long[] newBuckets = new long[capacity];
            for (long seq = headSeq; seq < tailSeq; seq++) {
                int from = (int) (seq & oldMask);
                int to = (int) (seq & newMask);
                newHashes[to] = hashes[from];
                newDeadlines[to] = deadlines[from];
                newOffsets[to] = offsets[from];
                newLengths[to] = lengths[from];
                newSpans[to] = spans[from];
                int bucket = (int) (newHashes[to] & newMask);
                newNext[to] = newBuckets[bucket];
                newBuckets[bucket] = seq;
            }
            hashes = newHashes;
            deadlines = newDeadlines;
            next = newNext;
            offsets = newOffsets;
            lengths = newLengths;
            spans = newSpans;
            buckets = newBuckets;
        }

        /** Doubles the arena (up to the limit), packing the live records from offset 0 in order. */
        private void growArena(int need) {
            long wanted = Math.max((long) arena.length * 2, (long) usedBytes + need);
            byte[] bigger = new byte[(int) Math.min(maxBytes, wanted)];
            int mask = mask();
            int p = 0;
            for (long seq = headSeq; seq < tailSeq; seq++) {
                int slot = (int) (seq & mask);
                System.arraycopy(arena, offsets[slot], bigger, p, lengths[slot]);
                offsets[slot] = p;
                spans[slot] = lengths[slot];
                p += lengths[slot];
            }
            arena = bigger;
            writePos = p;
            usedBytes = p;
        }
    }
}
