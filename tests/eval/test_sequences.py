"""The scores of sequence generators (ganlab.eval.sequences): NLL-oracle while a run trains, BLEU on captions."""

from __future__ import annotations

import json

import pytest
import torch

from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.train.trainer import TrainConfig, Trainer


@pytest.fixture
def small_oracle(tmp_path):
    from ganlab.data.oracle import load_oracle, write_oracle
    from ganlab.data.config import OracleParams

    write_oracle(OracleParams(vocab=30, length=8, embed=8, hidden=8, n_train=512, seed=2), tmp_path / "oracle")
    return load_oracle(tmp_path / "oracle")


def test_trainer_scores_nll_oracle_at_start_every_eval_and_end_and_resumes_them(small_oracle, tmp_path):
    from ganlab.eval.sequences import NllOracle

    tokens_, oracle, info = small_oracle
    spec = DataSpec((8,), 0, vocab=30)

    def trainer(steps: int, out: str) -> Trainer:
        torch.manual_seed(0)
        v = registry.get("seq_mle")(registry.get("seq_mle").Config(embed=8, hidden=8, lr=0.02), spec,
                                    torch.device("cpu"))
        config = TrainConfig(steps=steps, batch_size=32, eval_every=40, log_every=20, sample_every=40,
                             checkpoint_every=40, n_samples=5)
        return Trainer(v, tokens_, None, config, tmp_path / out, monitor=NllOracle(oracle, info, n=500))

    summary = trainer(120, "a").fit(progress=False)
    saved = json.loads((tmp_path / "a" / "train_summary.json").read_text())
    assert [e["step"] for e in saved["evals"]] == [0, 40, 80, 120]
    curve = [e["nll_oracle"] for e in saved["evals"]]
    floor = info["oracle_nll_of_its_own_samples"]
    assert curve[-1] < curve[0] - 0.5  # learning the oracle's language
    assert curve[-1] > floor - 0.3  # nothing beats the oracle's entropy rate by much
    coverage = [e["nll_gen"] for e in saved["evals"]]
    assert coverage[-1] < coverage[0] - 0.5 and coverage[-1] > floor  # cross-entropy >= the entropy rate
    assert summary["eval"]["nll_oracle"] == curve[-1] and saved["eval_protocol"]["n_generated"] == 500
    rows = (tmp_path / "a" / "dvclive" / "plots" / "metrics" / "eval" / "nll_oracle.tsv").read_text().splitlines()
    assert [int(r.split("\t")[0]) for r in rows[1:]] == [0, 40, 80, 120]
    lines = (tmp_path / "a" / "samples" / "step_0000120.txt").read_text().splitlines()
    assert len(lines) == 5 and all(len(line.split()) == 8 for line in lines)

    trainer(80, "b").fit(progress=False)
    trainer(120, "b").fit(progress=False)
    resumed = json.loads((tmp_path / "b" / "train_summary.json").read_text())
    assert resumed["evals"] == saved["evals"]  # the same weights, the same noise: the same curve


def test_text_quality_scores_bleu_against_references_and_self_bleu_among_samples():
    from ganlab.eval.sequences import TextQuality

    words = ("a", "cat", "dog", "sits", ".", "<end>")
    spec = DataSpec((5,), 0, vocab=len(words), words=words, end_token=5)

    class Parrot(registry.get("seq_mle")):  # always says "a cat sits ."
        def sample(self, z, y=None):
            return torch.tensor([[0, 1, 3, 4, 5]]).repeat(len(z), 1)

    parrot = Parrot(Parrot.Config(embed=4, hidden=4), spec, torch.device("cpu"))
    assert parrot.text(torch.tensor([[0, 1, 3, 4, 5], [0, 2, 5, 1, 1]])) == ["a cat sits .", "a dog"]
    scores = TextQuality(["a cat sits .", "a dog sits ."], n=20)(parrot)
    assert scores["bleu2"] == pytest.approx(1.0) and scores["bleu5"] < 1.0  # 4 words have no 5-gram: smoothed
    assert scores["self_bleu2"] == pytest.approx(1.0)  # twenty copies of one sentence: no diversity
    assert scores["mean_words"] == 4
    other = TextQuality(["the dog runs"], n=20)(parrot)
    assert other["bleu2"] < 0.2
