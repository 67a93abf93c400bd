"""Sentences as token sequences for the sequence GANs: tokenisation, a word vocabulary, padding.

Texygen's COCO protocol (Zhu et al., "Texygen: A Benchmarking Platform for Text Generation Models",
SIGIR 2018), with two choices of ours where theirs is not reproducible or loses information:

- words are lower-cased and split off punctuation and the clitic "'s", as NLTK's word_tokenize
  does on these captions (a regular expression here: NLTK's tokenizer needs a model download);
- the vocabulary is every word of the training file, ordered by count then alphabetically (Texygen
  builds it from a Python set, so its ids change with the hash seed); test words are not added;
- every sentence is followed by the end code (id = vocabulary size) up to ``length`` = the
  longest training sentence + 1, so the model learns where sentences stop; decoding cuts at the
  first end code (Texygen drops every end code and keeps words sampled after one).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ganlab.errors import DataFormatError

_TOKEN = re.compile(r"'[a-z]+|[a-z0-9]+(?:-[a-z0-9]+)*|[^\sa-z0-9]")
END = "<end>"


def tokenize(line: str) -> list[str]:
    """Lower-cased words and punctuation marks of ``line``: "a man's hat." -> a, man, 's, hat, ."""
    return _TOKEN.findall(line.lower())


@dataclass(frozen=True)
class Vocabulary:
    words: tuple[str, ...]  # id -> word; the last id is the end code

    @classmethod
    def build(cls, sentences: list[list[str]]) -> Vocabulary:
        counts = Counter(w for s in sentences for w in s)
        return cls((*sorted(counts, key=lambda w: (-counts[w], w)), END))

    @property
    def end(self) -> int:
        return len(self.words) - 1

    def encode(self, sentences: list[list[str]], length: int) -> np.ndarray:
        """(n, length) int64 ids, each sentence followed by end codes; unknown words or a sentence
        longer than ``length`` - 1 raise, naming the sentence."""
        ids = {w: i for i, w in enumerate(self.words)}
        out = np.full((len(sentences), length), self.end, dtype=np.int64)
        for i, sentence in enumerate(sentences):
            if len(sentence) >= length:
                raise DataFormatError(f"sentence {i} has {len(sentence)} tokens; at most {length - 1} fit")
            try:
                out[i, : len(sentence)] = [ids[w] for w in sentence]
            except KeyError as exc:
                raise DataFormatError(f"sentence {i}: word {exc.args[0]!r} is not in the vocabulary") from None
        return out


def encode_corpus(lines: list[str]) -> tuple[np.ndarray, Vocabulary]:
    """The training lines as (n, longest + 1) ids and the vocabulary built from them; empty lines are skipped."""
    sentences = [s for s in map(tokenize, lines) if s]
    if not sentences:
        raise DataFormatError("no sentences: every line of the training text is empty")
    vocab = Vocabulary.build(sentences)
    return vocab.encode(sentences, max(map(len, sentences)) + 1), vocab
