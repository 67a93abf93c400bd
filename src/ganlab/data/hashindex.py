"""Near-duplicate search over binary hashes without comparing all pairs: multi-index hashing.

Split the B hash bits into m chunks. If two hashes differ in at most t bits, then at least one
chunk differs in at most r = floor(t / m) bits (pigeonhole). So for every chunk, every hash looks
up the hashes whose chunk equals its own chunk with at most r bits flipped, in a counting-sort
table of that chunk, and only those candidates get their full Hamming distance computed
(Norouzi, Punjani & Fleet, "Fast search in Hamming space with multi-index hashing", CVPR 2012).
Everything is vectorised over all hashes at once, one flip pattern at a time; m is chosen by a
cost model from N, B and t.

Hashes are ``(N, W)`` uint64 arrays, bit k of a hash being bit ``k % 64`` of word ``k // 64``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

MAX_CHUNK_BITS = 22  # a chunk's lookup table has 2**bits + 1 int64 entries: 32 MiB at 22 bits


def as_words(hashes: np.ndarray) -> np.ndarray:
    """Accept (N,) uint64 or (N, W) uint64; return (N, W) uint64."""
    h = np.asarray(hashes)
    if h.ndim == 1:
        h = h[:, None]
    if h.dtype != np.uint64:
        h = h.astype(np.uint64)
    return np.ascontiguousarray(h)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Hamming distance of two (K, W) uint64 arrays."""
    return np.bitwise_count(a ^ b).sum(axis=-1, dtype=np.int64)


def _flip_patterns(bits: int, radius: int) -> np.ndarray:
    """Every integer below 2**bits with at most ``radius`` bits set, 0 first."""
    out = [0]
    for k in range(1, radius + 1):
        out.extend(sum(1 << i for i in combo) for combo in itertools.combinations(range(bits), k))
    return np.asarray(out, dtype=np.int64)


# Seconds per unit of work on this kind of machine (benchmarks/dedup_speed.py, 2 cores): one
# hash's lookup for one flip pattern, one candidate's distance, one pair of the all-pairs scan.
SECONDS_PER_LOOKUP, SECONDS_PER_CANDIDATE, SECONDS_PER_PAIR = 20e-9, 60e-9, 1.3e-9


def estimated_seconds(n: int, nbits: int, threshold: int) -> tuple[float, float]:
    """(multi-index search, all-pairs scan): rough times, to pick the cheaper for large radii."""
    m, r = plan(n, nbits, threshold)
    bits = math.ceil(nbits / m)
    patterns = m * sum(math.comb(bits, k) for k in range(r + 1))
    index = patterns * n * (SECONDS_PER_LOOKUP + SECONDS_PER_CANDIDATE * n / 2**bits)
    words = math.ceil(nbits / 64)
    return index, n * (n - 1) / 2 * SECONDS_PER_PAIR * words


def plan(n: int, nbits: int, threshold: int) -> tuple[int, int]:
    """Choose the number of chunks m and the per-chunk radius r by estimated work."""
    best = None
    for m in range(1, nbits + 1):
        bits = math.ceil(nbits / m)
        if bits > MAX_CHUNK_BITS:
            continue
        r = threshold // m
        patterns = m * sum(math.comb(bits, k) for k in range(r + 1))
        # per pattern: a pass over all n hashes, plus the candidates it yields (n * n / 2**bits),
        # each of which costs a few more operations than a lookup
        cost = patterns * (n + 3.0 * n * n / 2**bits)
        if best is None or cost < best[0]:
            best = (cost, m, r)
    assert best is not None, "MAX_CHUNK_BITS admits at least one chunking"
    return best[1], best[2]


def _chunk_keys(words: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Bits lo..hi-1 of every hash as an int64 key (the range never spans more than 22 bits)."""
    key = np.zeros(len(words), dtype=np.uint64)
    for pos in range(lo, hi):  # at most 22 iterations, each vectorised over all hashes
        word, bit = divmod(pos, 64)
        key |= ((words[:, word] >> np.uint64(bit)) & np.uint64(1)) << np.uint64(pos - lo)
    return key.astype(np.int64)


def near_pairs(hashes: np.ndarray, threshold: int, nbits: int | None = None, method: str = "auto") -> np.ndarray:
    """All pairs (i, j), i < j, with Hamming distance <= threshold; returns (P, 3) int64 [i, j, d].

    ``method``: "index" (multi-index search), "scan" (all pairs) or "auto", the one estimated
    cheaper; all three give the same pairs.
    """
    words = as_words(hashes)
    n = len(words)
    nbits = nbits or 64 * words.shape[1]
    if n < 2:
        return np.empty((0, 3), dtype=np.int64)
    if method not in ("auto", "index", "scan"):
        raise ValueError(f"unknown method {method!r}; choose auto, index or scan")
    if method == "auto":
        index_s, scan_s = estimated_seconds(n, nbits, threshold)
        # a large radius on few hashes makes the index enumerate more than a plain scan reads
        method = "scan" if scan_s < index_s else "index"
    if method == "scan":
        return all_pairs_baseline(words, threshold)
    m, r = plan(n, nbits, threshold)
    edges = np.linspace(0, nbits, m + 1).round().astype(int)
    found = []
    for lo, hi in itertools.pairwise(edges):
        keys = _chunk_keys(words, lo, hi)
        # Work in key-sorted order: the table lookups of neighbouring queries then touch
        # neighbouring memory, which is what makes a pass over a million hashes cheap.
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order].astype(np.int32)
        sorted_words = words[order]
        starts = np.zeros(2 ** (hi - lo) + 1, dtype=np.int32)
        np.cumsum(np.bincount(keys, minlength=2 ** (hi - lo)), out=starts[1:])
        for pattern in _flip_patterns(hi - lo, r).astype(np.int32):
            q = sorted_keys ^ pattern
            first = starts[q]
            count = starts[q + 1] - first
            qi = np.flatnonzero(count)
            first, count = first[qi], count[qi]
            k = 0
            while len(qi):  # the k-th member of each query's bucket; buckets hold a few at most
                cj = first + k
                keep = qi < cj  # each unordered pair once (the other side finds it too)
                a, b = qi[keep], cj[keep]
                d = hamming(sorted_words[a], sorted_words[b])
                close = d <= threshold
                if close.any():
                    i, j = order[a[close]], order[b[close]]
                    found.append(np.stack([np.minimum(i, j), np.maximum(i, j), d[close]], axis=1))
                k += 1
                more = count > k
                qi, first, count = qi[more], first[more], count[more]
    if not found:
        return np.empty((0, 3), dtype=np.int64)
    pairs = np.concatenate(found).astype(np.int64)
    # a pair within radius in several chunks is found several times
    _, first_seen = np.unique(pairs[:, 0] * n + pairs[:, 1], return_index=True)
    pairs = pairs[np.sort(first_seen)]
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def near_pairs_between(a: np.ndarray, b: np.ndarray, threshold: int, nbits: int | None = None) -> np.ndarray:
    """Pairs (i in a, j in b) within ``threshold``: (P, 3) int64 [i, j, d]. For leakage checks."""
    wa, wb = as_words(a), as_words(b)
    both = np.concatenate([wa, wb])
    pairs = near_pairs(both, threshold, nbits)
    na = len(wa)
    cross = (pairs[:, 0] < na) & (pairs[:, 1] >= na)
    out = pairs[cross].copy()
    out[:, 1] -= na
    return out


def all_pairs_baseline(hashes: np.ndarray, threshold: int, block: int = 2048) -> np.ndarray:
    """The vectorised all-pairs search the index is measured against (and checked against in tests)."""
    words = as_words(hashes)
    n = len(words)
    found = []
    if words.shape[1] == 1:
        # One word per hash: no trailing axis to sum over, and only as many rows at a time as keep
        # the (rows, N) temporaries near cache size (2**18 entries); same pairs, in the same order.
        flat = words[:, 0]
        step = max(1, min(block, (1 << 18) // max(n, 1)))
        for start in range(0, n, step):
            later = flat[start + 1 :]
            d = np.bitwise_count(flat[start : start + step, None] ^ later).ravel()
            hit = np.flatnonzero(d <= threshold)
            i, j = np.divmod(hit, len(later))
            i_abs, j_abs = i + start, j + start + 1
            keep = i_abs < j_abs
            found.append(np.stack([i_abs[keep], j_abs[keep], d[hit[keep]].astype(np.int64)], axis=1))
        return np.concatenate(found) if found else np.empty((0, 3), dtype=np.int64)
    for start in range(0, n, block):
        rows = words[start : start + block]
        # (block, N): distance of each row to every later hash
        d = np.bitwise_count(rows[:, None, :] ^ words[None, start + 1 :, :]).sum(axis=-1)
        i, j = np.nonzero(d <= threshold)
        i_abs = i + start
        j_abs = j + start + 1
        keep = i_abs < j_abs
        found.append(np.stack([i_abs[keep], j_abs[keep], d[i, j][keep].astype(np.int64)], axis=1))
    return np.concatenate(found) if found else np.empty((0, 3), dtype=np.int64)
