"""The synthetic oracle of SeqGAN's benchmark: a random LSTM language model and its samples.

Yu, Zhang, Wang & Yu, "SeqGAN: Sequence Generative Adversarial Nets with Policy Gradient",
AAAI 2017, section "Synthetic Data Experiments". An LSTM whose every parameter is drawn from
N(0, 1) defines a distribution over token sequences (vocabulary 5,000, length 20, embedding and
hidden size 32); 10,000 of its samples are the training set. Because the true model is known,
a generator G is scored by NLL-oracle: the oracle's mean negative log-likelihood per token of
sequences sampled from G (lower is better; the oracle's own samples score its entropy rate,
the floor no generator can beat on average).

The oracle is drawn from its own seed (``oracle.seed``), not the pipeline's, so that a seed sweep
over the models keeps the benchmark fixed. The dataset folder holds ``oracle.pt`` (the weights,
loadable with ``weights_only=True``), ``train.npy`` (uint16 tokens, (n, length)) and
``dataset.json`` with the settings, the tokens' sha256 and the oracle's entropy-rate estimate.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganlab.data.config import OracleParams
from ganlab.data.datasets import INFO_FILE
from ganlab.errors import DataFormatError
from ganlab.files import atomic_directory, write_json_atomic
from ganlab.models.sequence import START, LSTMLanguageModel, mean_token_nll

log = logging.getLogger(__name__)

NAME = "oracle"
WEIGHTS = "oracle.pt"
TOKENS = "train.npy"
__all__ = ["START", "OracleLSTM", "build_oracle", "load_oracle", "nll_oracle", "write_oracle"]


#: the oracle is SeqGAN's generator architecture with other parameters
OracleLSTM = LSTMLanguageModel


def build_oracle(params: OracleParams) -> OracleLSTM:
    """The oracle of ``params``: every parameter drawn from N(0, 1) with ``params.seed``."""
    oracle = OracleLSTM(params.vocab, params.embed, params.hidden, params.length)
    g = torch.Generator().manual_seed(params.seed)
    with torch.no_grad():
        for p in oracle.parameters():  # registration order: embedding, LSTM weights and biases, output
            p.copy_(torch.randn(p.shape, generator=g))
    return oracle.eval()


@torch.no_grad()
def nll_oracle(oracle: OracleLSTM, seqs: torch.Tensor) -> float:
    """NLL-oracle: the oracle's mean negative log-likelihood per token of ``seqs``, in nats."""
    if seqs.dim() != 2 or seqs.shape[1] != oracle.length:
        raise ValueError(f"NLL-oracle needs (n, {oracle.length}) token sequences, got {tuple(seqs.shape)}")
    return mean_token_nll(oracle.nll, seqs, oracle.out.weight.device)


@torch.no_grad()
def sample_in_chunks(oracle: OracleLSTM, n: int, generator: torch.Generator, chunk: int = 1000) -> torch.Tensor:
    return torch.cat([oracle.sample(torch.rand(min(chunk, n - i), oracle.length, generator=generator))
                      for i in range(0, n, chunk)])


def write_oracle(params: OracleParams, out: str | Path) -> dict[str, Any]:
    """Draw the oracle and its ``params.n_train`` training sequences into the dataset folder ``out``."""
    oracle = build_oracle(params)
    g = torch.Generator().manual_seed(params.seed + 1)
    tokens = sample_in_chunks(oracle, params.n_train, g)
    held_out = sample_in_chunks(oracle, params.n_train, g)  # fresh samples: the entropy-rate estimate
    floor = nll_oracle(oracle, held_out)
    array = tokens.numpy().astype(np.uint16)
    buf = io.BytesIO()
    torch.save(oracle.state_dict(), buf)
    info = {
        "name": NAME, "kind": "sequences", "vocab": params.vocab, "length": params.length, "embed": params.embed,
        "hidden": params.hidden, "n_train": params.n_train, "seed": params.seed,
        "description": "samples of a random LSTM oracle with N(0, 1) parameters, SeqGAN's synthetic benchmark "
                       "(Yu et al. 2017)",
        "tokens_sha256": hashlib.sha256(array.tobytes()).hexdigest(),
        "oracle_sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
        "oracle_nll_of_its_own_samples": floor,
    }
    with atomic_directory(Path(out), INFO_FILE) as tmp:
        (tmp / WEIGHTS).write_bytes(buf.getvalue())
        with open(tmp / TOKENS, "wb") as fh:
            np.save(fh, array)
        write_json_atomic(tmp / INFO_FILE, info)
    log.info("oracle: %d sequences of %d tokens; NLL-oracle of its own samples %.3f nats", params.n_train,
             params.length, floor)
    return info


def load_oracle(root: str | Path) -> tuple[torch.Tensor, OracleLSTM, dict[str, Any]]:
    """(training tokens (n, length) int64, the oracle in eval mode, dataset.json) of an oracle dataset."""
    root = Path(root)
    try:
        info = json.loads((root / INFO_FILE).read_text())
        array = np.load(root / TOKENS, allow_pickle=False)
        state = torch.load(root / WEIGHTS, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise DataFormatError(f"{root}: not an oracle dataset ({exc.filename} missing); run `dvc repro oracle`") from None
    except Exception as exc:  # noqa: BLE001 - a damaged file fails in many ways (json, npy, pickle); each is named
        raise DataFormatError(f"{root}: unreadable oracle dataset ({type(exc).__name__}: {exc})") from None
    if array.shape != (info["n_train"], info["length"]) or int(array.max(initial=0)) >= info["vocab"]:
        raise DataFormatError(f"{root}/{TOKENS}: expected ({info['n_train']}, {info['length']}) tokens below "
                              f"{info['vocab']}, got {array.shape} with max {int(array.max(initial=0))}")
    if hashlib.sha256(array.tobytes()).hexdigest() != info["tokens_sha256"]:
        raise DataFormatError(f"{root}/{TOKENS}: its sha256 differs from dataset.json's tokens_sha256")
    oracle = OracleLSTM(info["vocab"], info["embed"], info["hidden"], info["length"])
    oracle.load_state_dict(state)
    return torch.from_numpy(array.astype(np.int64)), oracle.eval(), info
