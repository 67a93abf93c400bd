"""The caption tokenizer and vocabulary (ganlab.data.text)."""

from __future__ import annotations

import numpy as np
import pytest

from ganlab.data.text import END, Vocabulary, encode_corpus, tokenize
from ganlab.errors import DataFormatError


def test_tokenizer_splits_punctuation_and_possessives_like_word_tokenize():
    assert tokenize("A man's T-shirt, on a bench.") == ["a", "man", "'s", "t-shirt", ",", "on", "a", "bench", "."]
    assert tokenize("  ") == []


def test_vocabulary_orders_by_count_then_alphabet_and_pads_with_the_end_code():
    ids, vocab = encode_corpus(["b a a.", "", "c a"])
    assert vocab.words == ("a", ".", "b", "c", END) and vocab.end == 4
    assert ids.shape == (2, 5)  # the empty line is skipped; the longest sentence (4 tokens) + 1
    assert ids.tolist() == [[2, 0, 0, 1, 4], [3, 0, 4, 4, 4]]
    with pytest.raises(DataFormatError, match="word 'zebra' is not in the vocabulary"):
        vocab.encode([["zebra"]], 5)
    with pytest.raises(DataFormatError, match="sentence 0 has 5 tokens; at most 4 fit"):
        vocab.encode([["a"] * 5], 5)
    assert Vocabulary.build([["x"], ["y", "x"]]).words == ("x", "y", END)
    assert isinstance(ids, np.ndarray) and ids.dtype == np.int64
