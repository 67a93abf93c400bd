"""Stage study@<study>: every run of a study trained once per seed, with the one trainer.

``claims.studies.<study>.runs`` names the runs (each a ``models.<run>`` section); its ``seeds`` the seeds
(``claims.seeds`` when it names none).
Run ``r`` with seed ``s`` is trained exactly as ``models.r`` with ``train.seed: s`` would be, by
:func:`ganlab.train.run.train_run`, into ``OUT/<r>/seed_<s>/`` (a run folder: generator.pt, checkpoint.pt,
samples/, dvclive/; ganlab.runs.RunDir). ``OUT/study.json`` lists what was trained, with the seconds each
took, and is written last: a folder without it is an interrupted study.

The (run, seed) pairs are independent and their networks small, so ``claims.workers`` processes train them
side by side, each on one thread: two one-thread processes on two cores finish a study in about half the time
one two-thread process takes (a toy MLP's step is too small to split over threads). Each pair is trained in
a process of its own with one thread whatever the number of workers, so its weights do not depend on it.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from ganlab.claims.config import ClaimsParams
from ganlab.errors import GanlabError
from ganlab.files import write_json_atomic
from ganlab.runs import RunDir
from ganlab.schema import unknown_key_message

log = logging.getLogger(__name__)

STUDY_INFO = "study.json"
STUDIES = "studies"  # DATA_ROOT/studies/<study>


def seed_dir(root: str | Path, run: str, seed: int) -> RunDir:
    """The folder of ``run`` trained with ``seed`` inside a study folder ``root``."""
    return RunDir(Path(root) / run / f"seed_{seed}")


def _train_one(name: str, run: Any, seed: int, data_root: str, out: str) -> float:
    """Train ``run`` with ``seed`` into OUT on one thread, in this (worker) process; its seconds."""
    import torch

    from ganlab.console import setup_logging
    from ganlab.train.run import train_run  # imports torch and the variants

    setup_logging()
    torch.set_num_threads(1)
    t = time.perf_counter()
    train_run({name: replace(run, train=replace(run.train, seed=seed))}, name, data_root, out, restart="stale",
              progress=False)
    return time.perf_counter() - t


def run_study(claims: ClaimsParams, study: str, data_root: str | Path, out: str | Path) -> dict[str, Any]:
    """Train every run of ``study`` once per seed into OUT; returns (and writes as OUT/study.json) what was done."""
    if study not in claims.studies:
        raise GanlabError(unknown_key_message(f"claims.studies.{study}", study, sorted(claims.studies)))
    runs, seeds, out = claims.studies[study].runs, claims.seeds_of(study), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / STUDY_INFO).unlink(missing_ok=True)
    trained: dict[str, dict[str, Any]] = {name: {"variant": run.variant, "data": run.data, "seconds": {},
                                                 "steps": run.train.steps} for name, run in runs.items()}
    jobs = [(name, run, seed) for name, run in runs.items() for seed in seeds]
    # the slow runs first, so the last one to finish is a short one (the steps and the unrolling say which)
    jobs.sort(key=lambda j: -j[1].train.steps * (1 + getattr(j[1].variant_config(), "unroll_steps", 0)))
    started = time.perf_counter()
    # spawn, not fork: a forked child of a process that has used torch's thread pool can deadlock
    with ProcessPoolExecutor(claims.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_train_one, name, run, seed, str(data_root), str(seed_dir(out, name, seed).root)):
                   (name, seed) for name, run, seed in jobs}
        for future, (name, seed) in futures.items():
            seconds = future.result()  # a worker's GanlabError comes back here, as raised
            trained[name]["seconds"][str(seed)] = round(seconds, 2)
            log.info("study@%s: %s seed %d in %.1f s", study, name, seed, seconds)
    info = {"study": study, "seeds": list(seeds), "runs": trained, "workers": claims.workers,
            "threads_per_run": 1, "seconds": round(time.perf_counter() - started, 2)}
    write_json_atomic(out / STUDY_INFO, info)
    return info


def read_study(root: str | Path) -> dict[str, Any]:
    """A finished study's study.json; a one-line error when the study is missing or was interrupted."""
    import json

    path = Path(root) / STUDY_INFO
    if not path.is_file():
        raise GanlabError(f"{path}: missing; the study is not trained (or was interrupted): "
                          f"`dvc repro study@{Path(root).name}`")
    try:
        info = json.loads(path.read_text())
    except ValueError as exc:
        raise GanlabError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(info, dict) or not isinstance(info.get("runs"), dict) or not isinstance(info.get("seeds"), list):
        raise GanlabError(f"{path}: not a study record (it needs 'runs' and 'seeds')")
    return info
