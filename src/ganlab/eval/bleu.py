"""BLEU and Self-BLEU of generated sentences, as the sequence-GAN literature computes them, exactly and fast.

Texygen's protocol (Zhu et al. 2018): every generated sentence is scored by sentence-level BLEU-n
(uniform weights over 1..n-grams, NLTK's smoothing method 1: a zero n-gram match count becomes 0.1)
against a whole reference set, and the scores are averaged. For BLEU the references are the test
sentences; for Self-BLEU (diversity: lower is more diverse) each generated sentence against all
the *other* generated ones (leave-one-out; Texygen's default code includes the sentence itself,
which makes every score 1, its issue 46).

NLTK recounts every reference per hypothesis, O(hypotheses x references); Texygen therefore
scored only 500 references in its "fast" mode. Sentence BLEU needs only, per n-gram, its largest
count in any one reference, and the reference lengths: both are tabulated once, so a score costs
O(its own n-grams). Leave-one-out needs the largest count among the *other* sentences: the table
keeps each n-gram's two largest counts and how many sentences reach the largest. The results equal
NLTK's sentence_bleu to rounding (tests/eval/test_bleu.py checks against NLTK).
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from collections.abc import Sequence

EPSILON = 0.1  # NLTK SmoothingFunction().method1


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


class _Table:
    """Per n-gram (orders 1..max_n): the largest count in one sentence, the next largest, and how many
    sentences hold the largest; and the sentence lengths."""

    def __init__(self, sentences: Sequence[Sequence[str]], max_n: int) -> None:
        self.top: list[dict[tuple, list[int]]] = [defaultdict(lambda: [0, 0, 0]) for _ in range(max_n)]
        for tokens in sentences:
            for n in range(1, max_n + 1):
                table = self.top[n - 1]
                for gram, c in _ngrams(tokens, n).items():
                    entry = table[gram]  # [largest, holders of largest, second largest]
                    if c > entry[0]:
                        entry[0], entry[1], entry[2] = c, 1, entry[0]
                    elif c == entry[0]:
                        entry[1] += 1
                    elif c > entry[2]:
                        entry[2] = c
        self.lengths = Counter(len(t) for t in sentences)
        self.sorted_lengths = sorted(self.lengths)

    def cap(self, order: int, gram: tuple, own: int | None) -> int:
        """Largest count of ``gram`` in a reference; ``own``: the hypothesis's own count, to leave it out."""
        entry = self.top[order - 1].get(gram)
        if entry is None:
            return 0
        if own is not None and own == entry[0] and entry[1] == 1:
            return entry[2]
        return entry[0]

    def closest_length(self, length: int, leave_out: bool) -> int | None:
        """NLTK's closest reference length (ties to the shorter), leaving one sentence of ``length`` out."""
        candidates = self.sorted_lengths
        i = bisect.bisect_left(candidates, length)
        best = None
        for j in (i - 2, i - 1, i, i + 1):
            if 0 <= j < len(candidates):
                r = candidates[j]
                if leave_out and r == length and self.lengths[r] < 2:
                    continue
                if best is None or (abs(r - length), r) < (abs(best - length), best):
                    best = r
        if best is None and leave_out:  # only this sentence had its length: widen the search
            others = [r for r in candidates if r != length]
            best = min(others, key=lambda r: (abs(r - length), r)) if others else None
        return best


def _sentence_bleu(tokens: Sequence[str], table: _Table, orders: Sequence[int], leave_out: bool) -> list[float]:
    """Sentence BLEU-n of ``tokens`` for each n in ``orders``: the clipped matches of each n-gram order are counted
    once and shared by every n that includes that order (BLEU-5 needs orders 1..5, BLEU-2 the first two)."""
    c = len(tokens)
    numerators, denominators = [], []
    for order in range(1, max(orders) + 1):
        grams = _ngrams(tokens, order)
        matched = sum(min(count, table.cap(order, g, count if leave_out else None)) for g, count in grams.items())
        numerators.append(matched)
        denominators.append(max(1, sum(grams.values())))
    if numerators[0] == 0:
        return [0.0] * len(orders)
    r = table.closest_length(c, leave_out)
    if r is None or c == 0:
        return [0.0] * len(orders)
    bp = 1.0 if c > r else math.exp(1 - r / c)
    logs = [math.log((num if num else EPSILON) / den) for num, den in zip(numerators, denominators)]
    return [bp * math.exp(sum(logs[:n]) / n) for n in orders]


def _mean_bleu(sentences: Sequence[Sequence[str]], table: _Table, orders: Sequence[int], leave_out: bool
               ) -> dict[int, float]:
    totals = [0.0] * len(orders)
    for tokens in sentences:
        for i, score in enumerate(_sentence_bleu(tokens, table, orders, leave_out)):
            totals[i] += score
    return {n: total / len(sentences) for n, total in zip(orders, totals)}


def bleu(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]], orders: Sequence[int] = (2, 3, 4, 5)
         ) -> dict[int, float]:
    """Mean sentence BLEU-n of tokenised ``hypotheses`` against all ``references``, for each n in ``orders``."""
    if not hypotheses or not references:
        raise ValueError("BLEU needs at least one hypothesis and one reference")
    return _mean_bleu(hypotheses, _Table(references, max(orders)), orders, False)


def self_bleu(sentences: Sequence[Sequence[str]], orders: Sequence[int] = (2, 3, 4, 5)) -> dict[int, float]:
    """Mean sentence BLEU-n of each sentence against all the others (leave-one-out)."""
    if len(sentences) < 2:
        raise ValueError("Self-BLEU needs at least two sentences")
    return _mean_bleu(sentences, _Table(sentences, max(orders)), orders, True)
