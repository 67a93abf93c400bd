"""The claims section of params.yaml (``claims:``): the seeds, and the studies whose runs the claims compare.

A **study** is a group of runs that claims compare, each trained once per seed by one stage
(study@<study>, ganlab.claims.study) into DATA_ROOT/studies/<study>/<run>/seed_<s>. Its runs have
the schema of a ``models.<run>`` section (variant, data, model, train), and the same checks; they
are not under ``models:`` because they are not the pipeline's sample runs: they are small (toy data,
seconds each), trained over seeds, and read only by the claim stages. ``train.seed`` of a study run
is ignored: the study trains it once per seed of its own ``seeds``, or of ``claims.seeds`` when it names
none (a study whose runs take seconds affords more seeds than one whose runs take a minute).

Torch-free, like every params section (the variant checks import torch only when a run is checked).
"""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.errors import ParamsError
from ganlab.schema import hp, join, unknown_key_message
from ganlab.train.config import RunParams


def _check_seeds(seeds: tuple[int, ...], where: str) -> None:
    if len(set(seeds)) != len(seeds):
        raise ParamsError(f"{where} = {list(seeds)}: a seed appears twice")
    if any(s < 0 for s in seeds):
        raise ParamsError(f"{where} = {list(seeds)}: seeds are >= 0")


@dataclass(frozen=True)
class StudyParams:
    """One study: its runs, and the seeds each is trained with."""

    seeds: tuple[int, ...] = hp((), "this study's seeds, each run trained once per seed; empty: claims.seeds "
                                "(every verdict on the study is taken over all of them)")
    runs: dict[str, RunParams] = hp({}, "run -> its models.<run> section (its train.seed is replaced by each seed)",
                                    names="a run's name is its folder, data/studies/<study>/<run>")

    @staticmethod
    def __check__(values: dict, where: str) -> None:
        _check_seeds(values.get("seeds", ()), join(where, "seeds"))
        runs = values.get("runs", {})
        if not runs:
            raise ParamsError(f"{join(where, 'runs')}: the study has no runs")
        datasets = sorted({r.data for r in runs.values()})
        if len(datasets) > 1:
            raise ParamsError(f"{join(where, 'runs')}: its runs train on {', '.join(datasets)}; a study's runs share "
                              "one dataset (what its claims compare them on)")


@dataclass(frozen=True)
class ClaimsParams:
    """Stages study@<study> and claim@<claim> (ganlab.claims)."""

    seeds: tuple[int, ...] = hp((0, 1, 2), "the seeds of a study that names none; each run is trained once per seed "
                                "and every verdict is taken over all of them (at least 2 for a verdict other than "
                                "inconclusive)")
    own_seeds: tuple[int, ...] = hp((), "the seeds of a claim that trains the networks it measures itself, without a "
                                    "study (they are small: seconds each); empty: claims.seeds")
    workers: int = hp(2, "processes that train a study's (run, seed) pairs side by side, one thread each (2: this "
                      "machine's two cores); the weights do not depend on it", min=1, max=256)
    studies: dict[str, StudyParams] = hp({}, "study -> its runs and seeds, each run trained once per seed by stage "
                                         "study@<study>", names="a study's name is its folder, data/studies/<study>")

    def seeds_of(self, study: str = "") -> tuple[int, ...]:
        """The seeds of ``study`` (its own, else claims.seeds); of a claim without a study (``""``): claims.own_seeds,
        else claims.seeds."""
        if study and study not in self.studies:
            raise ParamsError(unknown_key_message(f"claims.studies.{study}", study, sorted(self.studies)))
        return (self.studies[study].seeds if study else self.own_seeds) or self.seeds

    @staticmethod
    def __check__(values: dict, where: str) -> None:
        seeds = values.get("seeds", (0,))  # unset: the default
        _check_seeds(seeds, join(where, "seeds"))
        _check_seeds(values.get("own_seeds", ()), join(where, "own_seeds"))
        if not seeds:
            raise ParamsError(f"{join(where, 'seeds')} is empty: a study trains each run once per seed")
