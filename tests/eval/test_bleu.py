"""BLEU and Self-BLEU (ganlab.eval.bleu) against NLTK's sentence_bleu."""

from __future__ import annotations

import random

import pytest

from ganlab.eval.bleu import bleu, self_bleu

nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")


def random_corpus(n: int, seed: int, words: int = 12) -> list[list[str]]:
    """Short sentences over a small vocabulary: many shared n-grams, repeated words, varied lengths."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(words)]
    return [[rng.choice(vocab) for _ in range(rng.randint(1, 9))] for _ in range(n)]


def nltk_mean(hypotheses, references_of, n: int) -> float:
    smooth = nltk_bleu.SmoothingFunction().method1
    weights = tuple([1 / n] * n)
    return sum(nltk_bleu.sentence_bleu(references_of(i), h, weights, smoothing_function=smooth)
               for i, h in enumerate(hypotheses)) / len(hypotheses)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bleu_equals_nltk_sentence_bleu_averaged(seed):
    hyps, refs = random_corpus(40, seed), random_corpus(60, seed + 100)
    ours = bleu(hyps, refs, (2, 3, 4, 5))
    for n in (2, 3, 4, 5):
        assert ours[n] == pytest.approx(nltk_mean(hyps, lambda i: refs, n), abs=1e-12), n


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_self_bleu_equals_nltk_with_each_sentence_left_out(seed):
    sents = random_corpus(40, seed, words=6)
    sents += [list(sents[0]), list(sents[1])]  # exact duplicates: leaving one copy out must keep the other
    sents.append(["w0"] * 11)  # the only sentence of its length
    ours = self_bleu(sents, (2, 3, 4))
    for n in (2, 3, 4):
        assert ours[n] == pytest.approx(nltk_mean(sents, lambda i: sents[:i] + sents[i + 1:], n), abs=1e-12), n


def test_bleu_extremes():
    s = [["a", "cat", "sits", "on", "the", "mat"]]
    assert bleu(s, s, (4,))[4] == pytest.approx(1.0)
    assert bleu([["dog"]], s, (2,))[2] == 0.0  # no unigram in common
    assert self_bleu(s * 3, (4,))[4] == pytest.approx(1.0)  # identical samples: no diversity at all
    with pytest.raises(ValueError, match="two sentences"):
        self_bleu(s)
