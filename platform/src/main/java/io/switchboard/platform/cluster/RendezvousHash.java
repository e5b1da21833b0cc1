package io.switchboard.platform.cluster;

import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.Optional;

/**
 * Rendezvous (highest-random-weight) hashing: the owner of a key is the node whose id, hashed
 * together with the key, gives the highest weight. Every node computes the same owner from the
 * same set of ids with no coordination; when a node leaves, only its keys move (each to the node
 * with the next-highest weight for it), and when one joins it takes about 1/N of the keys from the
 * others. (Thaler and Ravishankar, "Using name-based mappings to increase hit rates", 1998.)
 *
 * <p>The weight is a 64-bit FNV-1a of {@code nodeId \0 key} put through the SplitMix64 finaliser,
 * which spreads FNV's weak low bits: stable across JVMs and releases (never {@code hashCode}),
 * since nodes of different versions must agree.
 */
public final class RendezvousHash {
    private RendezvousHash() {
    }

    /** The owner of {@code key} among {@code nodeIds}; empty when there are none. Ties go to the smaller id. */
    public static Optional<String> owner(String key, Collection<String> nodeIds) {
        String best = null;
        long bestWeight = 0;
        for (String node : nodeIds) {
            long weight = weight(node, key);
            if (best == null || Long.compareUnsigned(weight, bestWeight) > 0
                    || weight == bestWeight && node.compareTo(best) < 0) {
                best = node;
                bestWeight = weight;
            }
        }
        return Optional.ofNullable(best);
    }

    /** The weight of {@code nodeId} for {@code key}. */
    static long weight(String nodeId, String key) {
        long hash = 0xcbf29ce484222325L;
        hash = fnv(hash, nodeId.getBytes(StandardCharsets.UTF_8));
        hash = (hash ^ 0) * 0x100000001b3L;
        hash = fnv(hash, key.getBytes(StandardCharsets.UTF_8));
        // SplitMix64 finaliser
        hash = (hash ^ (hash >>> 30)) * 0xbf58476d1ce4e5b9L;
        hash = (hash ^ (hash >>> 27)) * 0x94d049bb133111ebL;
        return hash ^ (hash >>> 31);
    }

    private static long fnv(long hash, byte[] bytes) {
        for (byte b : bytes) {
            hash ^= b & 0xff;
            hash *= 0x100000001b3L;
        }
        return hash;
    }
}
