"""params.yaml as one frozen dataclass, validated before any work starts.

Each section is a dataclass that lives beside the code that reads it: ``data:``, ``faces:``,
``dedup:``, ``toy:``, ``toy2d:``, ``oracle:``, ``domains:`` in ganlab.data.config; ``models:`` in
ganlab.train.config; ``metrics:``, ``evaluators:``, ``transfer:`` in ganlab.eval.config;
``report:`` in ganlab.report.config; ``claims:`` in ganlab.claims.config. This module only assembles them into :class:`Params` and
checks what one section cannot check alone (a metrics run names a run under ``models:``, a run's
``pretrained_from`` another run with the same MLE settings, ...).
:func:`load_params` reads the file and stops with a :class:`~ganlab.errors.ParamsError` that
names the file, the key, the value and what is allowed (the wording is ganlab.schema's).

Nothing here imports torch: a params file without ``models:`` is checked without it (the model
registry loads torch to check a run).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganlab.claims.config import ClaimsParams
from ganlab.data.config import (DatasetParams, DedupParams, DomainsParams, FacesParams,
                                OracleParams, Toy2dParams, ToyParams)
from ganlab.data.sources import DATASETS
from ganlab.data import kinds
from ganlab.errors import ParamsError
from ganlab.eval.config import EvaluatorConfig, MetricsParams, TransferConfig
from ganlab.report.config import ReportConfig
from ganlab.schema import did_you_mean, from_dict, hp, join, read_yaml, shown, unknown_key_message
from ganlab.train.config import RunParams, check_pretrained

DEFAULT_PARAMS = Path("params.yaml")


@dataclass(frozen=True)
class Params:
    """The whole of params.yaml."""

    seed: int = hp(0, "global seed; every stage derives its own seeds from it", min=0, max=2**31 - 1)
    data: dict[str, DatasetParams] = hp({}, "datasets the pipeline fetches, by name")
    faces: FacesParams = hp(FacesParams(), "face cropping")
    dedup: DedupParams = hp(DedupParams(), "near-duplicate removal")
    toy: ToyParams = hp(ToyParams(), "the 1-D toy dataset")
    toy2d: Toy2dParams = hp(Toy2dParams(), "the 2-D ring and grid of Gaussians, and how a generator of them is scored")
    domains: DomainsParams = hp(DomainsParams(), "the unpaired two-domain dataset of the translation models")
    oracle: OracleParams = hp(OracleParams(), "SeqGAN's synthetic oracle and its training sequences")
    # Any, not dict[str, EvaluatorConfig]: __check__ names a dataset that has no evaluator before it reads
    # the section, and takes an empty section (``mnist:``) for the defaults
    evaluators: dict[str, Any] = hp({}, "the evaluator network of each labelled image dataset, by dataset name "
                                    "(ganlab.eval.config.EvaluatorConfig): each is an evaluator@<name> stage")
    models: dict[str, RunParams] = hp({}, "training runs, by name: each is a train@<name> stage",
                                      names="a run's name is its folder, data/models/<run>")
    metrics: MetricsParams = hp(MetricsParams(), "sample-quality metrics of the image runs")
    # Any, not TransferConfig | None and ReportConfig | None: __check__ builds them in this order, so that
    # the first of several errors is reported as it always was
    transfer: Any = hp(None, "DCGAN's CIFAR-10 transfer test (ganlab.eval.config.TransferConfig): stage transfer")
    report: Any = hp(None, "the HTML report's own drawings (ganlab.report.config.ReportConfig): stage report")
    claims: ClaimsParams = hp(ClaimsParams(), "the papers' claims: the seeds, and the studies whose runs they "
                              "compare (ganlab.claims): stages study@<study> and claim@<claim>")

    @staticmethod
    def __check__(values: dict[str, Any], where: str) -> None:
        """Each evaluators.<dataset> names a labelled image dataset and holds an EvaluatorConfig;
        transfer: holds a TransferConfig whose runs are under models:; report: a ReportConfig whose
        arithmetic run is under models:."""
        if values.get("transfer") is not None:
            config = from_dict(TransferConfig, values["transfer"], join(where, "transfer"))
            models = values.get("models", {})
            for run in config.runs:
                if run not in models:
                    raise ParamsError(f"{join(where, 'transfer.runs')} names {shown(run)}, which is not a run under "
                                      f"models:{did_you_mean(run, list(models))}; runs: "
                                      f"{', '.join(sorted(models)) or 'none'}")
            values["transfer"] = config
        if values.get("report") is not None:
            report = from_dict(ReportConfig, values["report"], join(where, "report"))
            report.check_runs(values.get("models", {}), join(where, "report"))
            values["report"] = report
        if not values.get("evaluators"):
            return
        allowed = sorted(n for n, d in DATASETS.items() if d.kind == "images")
        checked = {}
        for name, raw in values["evaluators"].items():
            if name not in allowed:
                raise ParamsError(f"{join(join(where, 'evaluators'), name)}: an evaluator is trained on a labelled "
                                  f"image dataset; choose one of: {', '.join(allowed)}")
            checked[name] = from_dict(EvaluatorConfig, raw if raw is not None else {}, join(where, f"evaluators.{name}"))
        values["evaluators"] = checked

    def __post_init__(self) -> None:
        for name, ds in self.data.items():
            if name not in DATASETS:
                raise ParamsError(unknown_key_message(f"data.{name}", name, sorted(DATASETS)))
            allowed = ["auto", *DATASETS[name].variant_names]
            if ds.variant not in allowed:
                raise ParamsError(
                    f"data.{name}.variant = {shown(ds.variant)} is not allowed; "
                    f"choose one of: {', '.join(allowed)}"
                )
        self._check_metrics()
        check_pretrained(self.models)  # a run that starts from another's pre-training trains the same MLE

    def _check_metrics(self) -> None:
        """metrics.runs name image runs of models: with their own dataset, each dataset has a
        reference, and each reference an evaluator stage when the evaluator is the extractor."""
        m = self.metrics
        for dataset, evaluator in m.references.items():
            if not kinds.image_distribution(dataset):
                raise ParamsError(f"{join('metrics.references', dataset)}: references are image datasets with classes "
                                  "or faces; the toy, the domain pair and sequences have their own scores")
            if m.extractor == "evaluator" and evaluator not in self.evaluators:
                raise ParamsError(f"{join('metrics.references', dataset)} = {shown(evaluator)}: no {join('evaluators', evaluator)} "
                                  f"section trains that evaluator; evaluators: {', '.join(sorted(self.evaluators)) or 'none'}")
        for run, dataset in m.runs.items():
            if run not in self.models:
                raise ParamsError(f"{join('metrics.runs', run)}: no run {shown(run)} under models:"
                                  f"{did_you_mean(run, list(self.models))}; runs: {', '.join(sorted(self.models))}")
            if self.models[run].data != dataset:
                raise ParamsError(f"metrics.runs.{run} = {shown(dataset)}, but models.{run}.data = "
                                  f"{shown(self.models[run].data)}: name the dataset the run trains on")
            if dataset not in m.references:
                raise ParamsError(f"metrics.runs.{run} = {shown(dataset)}: add it to metrics.references "
                                  f"(dataset -> evaluator); references: {', '.join(sorted(m.references)) or 'none'}")
        for run in m.parzen:
            if run not in m.runs:
                raise ParamsError(f"metrics.parzen names {shown(run)}, which is not under metrics.runs")


def load_params(path: str | Path = DEFAULT_PARAMS) -> Params:
    """Read and validate params.yaml; raise ParamsError naming the file and key on any problem."""
    raw = read_yaml(path)
    if raw is None:  # an empty file (or one of comments only) is more likely a mistake than "all defaults"
        raise ParamsError(f"{path}: empty; a params file is a mapping of sections (models:, data:, ...)")
    try:
        return from_dict(Params, raw, "")
    except ParamsError as exc:
        raise ParamsError(f"{path}: {exc}") from None
