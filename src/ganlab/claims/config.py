"""The claims section of params.yaml (``claims:``): the seeds, and the studies whose runs the claims compare.

A **study** is a group of runs that claims compare, each trained once per seed by one stage
(study@<study>, ganlab.claims.study) into DATA_ROOT/studies/<study>/<run>/seed_<s>. Its runs have
the schema of a ``models.<run>`` section (variant, data, model, train), and the same checks; they
are not under ``models:`` because they are not the pipeline's sample runs: they are small (toy data,
seconds each), trained over seeds, and read only by the claim stages. ``train.seed`` of a study run
is ignored: the study trains it once per seed of ``claims.seeds``.

Torch-free, like every params section (the variant checks import torch only when a run is checked).
"""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.errors import ParamsError
from ganlab.schema import check_name, hp, join
from ganlab.train.config import RunParams


@dataclass(frozen=True)
class ClaimsParams:
    """Stages study@<study> and claim@<claim> (ganlab.claims)."""

    seeds: tuple[int, ...] = hp((0, 1, 2), "the seeds every study run is trained with, once each; every verdict "
                                "is taken over all of them (at least 2 for a verdict other than inconclusive)")
    workers: int = hp(2, "processes that train a study's (run, seed) pairs side by side, one thread each (2: this "
                      "machine's two cores); the weights do not depend on it", min=1, max=256)
    studies: dict[str, dict[str, RunParams]] = hp({}, "study -> its runs (models.<run> schema), each trained once "
                                                  "per seed by stage study@<study>",
                                                  names="a study's name is its folder, data/studies/<study>")

    @staticmethod
    def __check__(values: dict, where: str) -> None:
        seeds = values.get("seeds", (0,))  # unset: the default
        if len(set(seeds)) != len(seeds):
            raise ParamsError(f"{join(where, 'seeds')} = {list(seeds)}: a seed appears twice")
        if any(s < 0 for s in seeds):
            raise ParamsError(f"{join(where, 'seeds')} = {list(seeds)}: seeds are >= 0")
        if not seeds:
            raise ParamsError(f"{join(where, 'seeds')} is empty: a study trains each run once per seed")
        for study, runs in values.get("studies", {}).items():
            if not runs:
                raise ParamsError(f"{join(where, f'studies.{study}')} has no runs")
            datasets = sorted({r.data for r in runs.values()})
            if len(datasets) > 1:
                raise ParamsError(f"{join(where, f'studies.{study}')}: its runs train on {', '.join(datasets)}; a "
                                  "study's runs share one dataset (what its claims compare them on)")
            for run in runs:
                check_name(run, join(where, f"studies.{study}"), "a run's name is its folder, "
                           "data/studies/<study>/<run>")
