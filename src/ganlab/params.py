"""params.yaml, mirrored by frozen dataclasses and validated before any work starts.

Each section of ``params.yaml`` is a frozen dataclass below. :func:`load_params` builds them
from the YAML file and stops with a :class:`~ganlab.errors.ParamsError` that names the key,
the value and what is allowed when it meets an unknown key, a wrong type or a value out of
range. Field metadata carries the checks: ``min``/``max`` bounds, ``choices`` for strings, and
``help``, the one-line reason that params.yaml also carries as a comment.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

from ganlab.data import kinds
from ganlab.errors import ParamsError

DEFAULT_PARAMS = Path("params.yaml")


def _opt(default: Any, help: str, **checks: Any) -> Any:
    """A dataclass field with a default, a one-line reason and optional checks."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **checks})
    return field(default=default, metadata={"help": help, **checks})


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class DatasetParams:
    """How to obtain one dataset (``data.<name>`` in params.yaml)."""

    variant: str = _opt(
        "auto",
        "which copy: auto = an official file in the mirror, else a mirror variant, else the network",
    )


@dataclass(frozen=True)
class FacesParams:
    """Face detection and cropping (``faces:``); see ganlab.data.faces."""

    cascade: str = _opt("haarcascade_frontalface_default.xml", "OpenCV's bundled cascade file, or a path")
    confirm_cascade: str = _opt("", "a second cascade that must fire inside each box; '' = none")
    scale_factor: float = _opt(1.1, "image pyramid step of the detector", min=1.01, max=2.0)
    min_neighbors: int = _opt(5, "overlapping detections a face needs", min=0, max=100)
    min_face: int = _opt(40, "smallest face side in pixels", min=8, max=4096)
    margin: float = _opt(0.2, "context added around the box on each side, as a fraction of its side", min=0.0, max=2.0)
    size: int = _opt(64, "side of the saved square crops", min=8, max=1024)
    test_fraction: float = _opt(0.1, "share of people held out as the test split", min=0.0, max=0.9)


HASH_METHODS = ("phash", "dhash", "whash", "ahash")
CONFIRM_METHODS = ("ncc", "dhash", "phash", "none")


@dataclass(frozen=True)
class DedupParams:
    """Near-duplicate removal (``dedup:``); see ganlab.data.dedup."""

    hash: str = _opt("phash", "perceptual hash", choices=HASH_METHODS)
    hash_size: int = _opt(8, "hash side: hash_size**2 bits", min=4, max=32)
    threshold: int = _opt(16, "Hamming distance for a candidate pair", min=0, max=1024)
    confirm: str = _opt("ncc", "independent check of each candidate pair", choices=CONFIRM_METHODS)
    min_correlation: float = _opt(0.94, "ncc: least correlation of a confirmed pair", min=-1.0, max=1.0)
    confirm_threshold: int = _opt(12, "dhash/phash confirm: Hamming distance of a confirmed pair", min=0, max=1024)
    drop_leaked: bool = _opt(True, "drop training images that have a near duplicate in the eval set")
    gallery_clusters: int = _opt(12, "clusters shown in gallery.png", min=0, max=200)

    def __post_init__(self) -> None:
        if self.threshold > self.hash_size**2:
            raise ParamsError(f"threshold = {self.threshold} exceeds the {self.hash_size**2} bits of a hash_size {self.hash_size} hash")


AMP_MODES = ("auto", "bf16", "off")


@dataclass(frozen=True)
class TrainParams:
    """The trainer's settings for one run (``models.<run>.train``); see ganlab.train.trainer."""

    steps: int = _opt(1000, "optimisation steps (generator updates for GANs)", min=1, max=10**9)
    batch_size: int = _opt(64, "images per batch (per critic iteration for WGANs)", min=1, max=65536)
    seed: int = _opt(0, "seed of weights, noise and batch order: same seed, same weights on CPU", min=0, max=2**31 - 1)
    device: str = _opt("auto", "auto = cuda, then mps, then cpu; or a torch device string such as cuda:1")
    amp: str = _opt("auto", "auto = bfloat16 autocast on CUDA, float32 elsewhere; bf16 forces it; off",
                    choices=AMP_MODES)
    checkpoint_every: int = _opt(500, "steps between checkpoints (and one at the end, and on SIGINT/SIGTERM)",
                                 min=1, max=10**9)
    sample_every: int = _opt(500, "steps between sample grids from the fixed noise batch", min=1, max=10**9)
    log_every: int = _opt(50, "steps between dvclive log rows", min=1, max=10**9)
    eval_every: int = _opt(0, "steps between scores of the generator on the run's data (NLL-oracle on the oracle, "
                           "BLEU on text), logged as eval/<name>; they are always taken at step 0 and at the end; "
                           "0 = only then", min=0, max=10**9)
    n_samples: int = _opt(64, "images per grid (100 = a 10 x 10 grid, a column per class for conditional models)",
                          min=1, max=1024)
    dvclive: bool = _opt(True, "log losses and images/s with dvclive (OUT/dvclive), for dvc plots")
    channels_last: bool = _opt(True, "NHWC memory format for the networks and image batches: x1.17 to x1.19 for "
                               "DCGAN on 2 CPU cores (benchmarks/trainer_speed.py); off for the NCHW default")


@dataclass(frozen=True)
class RunParams:
    """One training run (``models.<run>``): a variant, its data, its hyperparameters, the trainer's settings."""

    variant: str = _opt("", "registered variant name (ganlab variants lists them)")
    data: str = _opt("mnist", "dataset to train on: a fetched image dataset, faces, toy-gaussian or domains")
    model: Any = _opt({}, "the variant's hyperparameters; unset ones take the paper's defaults")
    train: TrainParams = _opt(TrainParams(), "trainer settings")

    @staticmethod
    def __check__(values: dict[str, Any], where: str) -> None:
        """Validate ``variant``, ``data`` and ``model`` against the registry (imports the models), and
        ``train.steps`` against the variant's phases."""
        from ganlab.models import registry
        from ganlab.models.base import phase_steps_error

        variant = values.get("variant", "")
        if variant not in registry.names():
            raise ParamsError(_unknown_key_message(f"{where}.variant", variant, registry.names())
                              .replace("unknown key", "unknown variant"))
        kind = registry.get(variant).data_kind
        allowed = kinds.datasets_for(kind)
        data = values.get("data", "mnist")
        if data not in allowed:
            raise ParamsError(f"{where}.data = {data!r}: variant {variant!r} trains on {kind}; choose one of: "
                              f"{', '.join(allowed)}")
        values["model"] = from_dict(registry.get(variant).Config, values.get("model", {}), f"{where}.model")
        steps = values.get("train", TrainParams()).steps
        problem = phase_steps_error(registry.get(variant).phases(values["model"]), steps)
        if problem:
            raise ParamsError(f"{where}.train.steps = {steps}: {variant} {problem}")

    def variant_config(self) -> Any:
        """The variant's Config (validated when the params were loaded)."""
        return self.model


@dataclass(frozen=True)
class ToyParams:
    """The 1-D toy data of the GAN paper's Figure 1 (``toy:``; stage toy -> data/toy-gaussian)."""

    mu: float = _opt(4.0, "mean of the data distribution N(mu, sigma)", min=-1e6, max=1e6)
    sigma: float = _opt(1.25, "its standard deviation", min=1e-6, max=1e6)
    n: int = _opt(10000, "samples drawn", min=2, max=10**8)


@dataclass(frozen=True)
class OracleParams:
    """SeqGAN's synthetic oracle (``oracle:``; stage oracle -> data/oracle): a random LSTM and its samples."""

    vocab: int = _opt(5000, "vocabulary size (SeqGAN: 5,000)", min=2, max=65535)
    length: int = _opt(20, "tokens per sequence (SeqGAN: 20)", min=2, max=10000)
    embed: int = _opt(32, "embedding size of the oracle LSTM (SeqGAN: 32)", min=1, max=4096)
    hidden: int = _opt(32, "hidden size of the oracle LSTM (SeqGAN: 32)", min=1, max=4096)
    n_train: int = _opt(10000, "training sequences drawn from the oracle (SeqGAN: 10,000)", min=1, max=10**8)
    seed: int = _opt(0, "the oracle's own seed: a sweep over the global seed keeps the benchmark fixed",
                     min=0, max=2**31 - 1)


@dataclass(frozen=True)
class DomainsParams:
    """The unpaired two-domain dataset of the translation models (``domains:``; stage domains -> data/domains).

    Domain A (label 0) is ``classes_a`` of dataset ``source_a``, domain B (label 1) ``classes_b`` of
    ``source_b``; both sources must have one image shape. See ganlab.data.domains."""

    source_a: str = _opt("mnist", "image dataset (a fetched one, or faces) that domain A, label 0, is drawn from")
    classes_a: tuple[str, ...] = _opt(("0", "1"), "the classes of source_a, by name, that make up domain A")
    source_b: str = _opt("fashion-mnist", "image dataset that domain B, label 1, is drawn from; same image shape as A")
    classes_b: tuple[str, ...] = _opt(("Bag", "Trouser"), "the classes of source_b, by name, that make up domain B")
    train_per_domain: int = _opt(0, "training images of each domain (equal counts); 0 = all that the smaller domain has",
                                 min=0, max=10**8)
    test_per_domain: int = _opt(0, "test images of each domain, likewise", min=0, max=10**8)

    def __post_init__(self) -> None:
        for side in ("a", "b"):
            classes = getattr(self, f"classes_{side}")
            if not classes:
                raise ParamsError(f"classes_{side} is empty; name at least one class of {getattr(self, f'source_{side}')}")
            twice = sorted({c for c in classes if classes.count(c) > 1})
            if twice:
                raise ParamsError(f"classes_{side} names {', '.join(map(repr, twice))} more than once")
        shared = sorted(set(self.classes_a) & set(self.classes_b))
        if self.source_a == self.source_b and shared:
            raise ParamsError(f"domains A and B both take class {', '.join(map(repr, shared))} of {self.source_a}: "
                              "the two domains must not share images")

    @staticmethod
    def __check__(values: dict[str, Any], where: str) -> None:
        """The sources must be image datasets ganlab can build, each one distribution of images."""
        allowed = [n for n in kinds.dataset_names() if kinds.image_distribution(n)]
        for side in ("a", "b"):
            source = values.get(f"source_{side}", getattr(DomainsParams, f"source_{side}"))
            if source not in allowed:
                raise ParamsError(f"{_join(where, f'source_{side}')} = {source!r} is not an image dataset; "
                                  f"choose one of: {', '.join(allowed)}")


EXTRACTOR_KINDS = ("evaluator", "inception-v3-compat")


@dataclass(frozen=True)
class MetricsParams:
    """Sample-quality metrics of the image runs (``metrics:``): stages reference@<dataset> (real features,
    cached per data version) and metrics@<run> (IS, FID, KID, precision/recall, class accuracy,
    memorisation, Parzen); see ganlab.eval.pipeline."""

    extractor: str = _opt("evaluator", "feature network: the dataset's evaluator@<dataset> (offline), or "
                          "inception-v3-compat (the field's standard; its weights must be on this machine)",
                          choices=EXTRACTOR_KINDS)
    inception_weights: str = _opt("", "inception-v3-compat weights file; '' = torch-fidelity's download cache")
    reference_split: str = _opt("train", "real split the generated images are compared with", choices=("train", "test"))
    n_real: int = _opt(10000, "real images drawn (seeded) from the reference split; 0 = all of it", min=0, max=10**8)
    n_fake: int = _opt(10000, "generated images per run", min=10, max=10**8)
    seed: int = _opt(0, "seed of the generated images and of the real subset", min=0, max=2**31 - 1)
    batch_size: int = _opt(500, "images per generator and extractor batch (does not change any number)",
                           min=1, max=65536)
    is_splits: int = _opt(10, "Inception Score splits (Salimans et al.: 10)", min=1, max=1000)
    kid_subsets: int = _opt(100, "KID subsets (torch-fidelity's default)", min=1, max=100000)
    kid_subset_size: int = _opt(1000, "images per KID subset (torch-fidelity's default)", min=2, max=10**8)
    pr_k: int = _opt(3, "k of the k-NN manifolds of precision/recall (Kynkaanniemi et al.: 3)", min=1, max=1000)
    memorisation_samples: int = _opt(2000, "generated images checked for copies (the first N of n_fake; 0 = all): "
                                     "each hash match costs an aligned correlation, and each nearest-neighbour "
                                     "query (against as many held-out images) a search of the training features", min=0, max=10**8)
    nearest_rows: int = _opt(8, "generated samples in the nearest-training-image grid", min=0, max=256)
    nearest_k: int = _opt(5, "nearest training images beside each", min=1, max=64)
    parzen: tuple[str, ...] = _opt((), "runs whose Parzen-window log-likelihood of the test set is estimated "
                                   "(the GAN paper's MNIST measure; slow, and a poor measure of quality)")
    references: dict[str, str] = _opt({}, "reference@<dataset> stages: image dataset -> the evaluator (by its "
                                      "dataset) whose features measure it")
    runs: dict[str, str] = _opt({}, "metrics@<run> stages: image run -> its dataset (a references key)")


@dataclass(frozen=True)
class Params:
    """The whole of params.yaml."""

    seed: int = _opt(0, "global seed; every stage derives its own seeds from it", min=0, max=2**31 - 1)
    data: dict[str, DatasetParams] = _opt({}, "datasets the pipeline fetches, by name")
    faces: FacesParams = _opt(FacesParams(), "face cropping")
    dedup: DedupParams = _opt(DedupParams(), "near-duplicate removal")
    toy: ToyParams = _opt(ToyParams(), "the 1-D toy dataset")
    domains: DomainsParams = _opt(DomainsParams(), "the unpaired two-domain dataset of the translation models")
    oracle: OracleParams = _opt(OracleParams(), "SeqGAN's synthetic oracle and its training sequences")
    evaluators: dict[str, Any] = _opt({}, "the evaluator network of each labelled image dataset, by dataset name "
                                      "(ganlab.eval.evaluator.EvaluatorConfig): each is an evaluator@<name> stage")
    models: dict[str, RunParams] = _opt({}, "training runs, by name: each is a train@<name> stage")
    metrics: MetricsParams = _opt(MetricsParams(), "sample-quality metrics of the image runs")
    transfer: Any = _opt(None, "DCGAN's CIFAR-10 transfer test (ganlab.eval.transfer.TransferConfig): stage transfer")
    report: Any = _opt(None, "the HTML report's own drawings (ganlab.report.config.ReportConfig): stage report")

    @staticmethod
    def __check__(values: dict[str, Any], where: str) -> None:
        """Each evaluators.<dataset> names a labelled image dataset and holds an EvaluatorConfig;
        transfer: holds a TransferConfig whose runs are under models:."""
        if values.get("transfer") is not None:
            from ganlab.eval.transfer import TransferConfig

            config = from_dict(TransferConfig, values["transfer"], _join(where, "transfer"))
            models = values.get("models", {})
            for run in config.runs:
                if run not in models:
                    raise ParamsError(f"{_join(where, 'transfer.runs')} names {run!r}, which is not a run under "
                                      f"models:{_did_you_mean(run, list(models))}; runs: "
                                      f"{', '.join(sorted(models)) or 'none'}")
            values["transfer"] = config
        if values.get("report") is not None:
            from ganlab.report.config import ReportConfig

            report = from_dict(ReportConfig, values["report"], _join(where, "report"))
            report.check_runs(values.get("models", {}), _join(where, "report"))
            values["report"] = report
        if not values.get("evaluators"):
            return
        from ganlab.data.sources import DATASETS
        from ganlab.eval.evaluator import EvaluatorConfig

        allowed = sorted(n for n, d in DATASETS.items() if d.kind == "images")
        checked = {}
        for name, raw in values["evaluators"].items():
            if name not in allowed:
                raise ParamsError(f"{_join(where, 'evaluators')}.{name}: an evaluator is trained on a labelled "
                                  f"image dataset; choose one of: {', '.join(allowed)}")
            checked[name] = from_dict(EvaluatorConfig, raw if raw is not None else {}, _join(where, f"evaluators.{name}"))
        values["evaluators"] = checked

    def __post_init__(self) -> None:
        # Imported here: the source registry imports nothing from params, but keeping the
        # dependency one-way at import time avoids a cycle as more sections arrive.
        from ganlab.data.sources import DATASETS

        for name, ds in self.data.items():
            if name not in DATASETS:
                raise ParamsError(_unknown_key_message(f"data.{name}", name, sorted(DATASETS)))
            allowed = ["auto", *DATASETS[name].variant_names]
            if ds.variant not in allowed:
                raise ParamsError(
                    f"data.{name}.variant = {ds.variant!r} is not allowed; "
                    f"choose one of: {', '.join(allowed)}"
                )
        self._check_metrics()

    def _check_metrics(self) -> None:
        """metrics.runs name image runs of models: with their own dataset, each dataset has a
        reference, and each reference an evaluator stage when the evaluator is the extractor."""
        m = self.metrics
        for dataset, evaluator in m.references.items():
            if not kinds.image_distribution(dataset):
                raise ParamsError(f"metrics.references.{dataset}: references are image datasets with classes "
                                  "or faces; the toy, the domain pair and sequences have their own scores")
            if m.extractor == "evaluator" and evaluator not in self.evaluators:
                raise ParamsError(f"metrics.references.{dataset} = {evaluator!r}: no evaluators.{evaluator} "
                                  f"section trains that evaluator; evaluators: {', '.join(sorted(self.evaluators)) or 'none'}")
        for run, dataset in m.runs.items():
            if run not in self.models:
                raise ParamsError(f"metrics.runs.{run}: no run {run!r} under models:"
                                  f"{_did_you_mean(run, list(self.models))}; runs: {', '.join(sorted(self.models))}")
            if self.models[run].data != dataset:
                raise ParamsError(f"metrics.runs.{run} = {dataset!r}, but models.{run}.data = "
                                  f"{self.models[run].data!r}: name the dataset the run trains on")
            if dataset not in m.references:
                raise ParamsError(f"metrics.runs.{run} = {dataset!r}: add it to metrics.references "
                                  f"(dataset -> evaluator); references: {', '.join(sorted(m.references)) or 'none'}")
        for run in m.parzen:
            if run not in m.runs:
                raise ParamsError(f"metrics.parzen names {run!r}, which is not under metrics.runs")


# --------------------------------------------------------------------------- loading


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's SafeLoader with YAML 1.2 floats, so ``lr: 1e-4`` is a float, not a string.

    DVC (ruamel, YAML 1.2) writes ``-S lr=1e-4`` without a dot; plain PyYAML (YAML 1.1)
    would read that back as the string '1e-4'.
    """


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def read_yaml(path: str | Path) -> Any:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such params file") from None
    try:
        return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None


def load_params(path: str | Path = DEFAULT_PARAMS) -> Params:
    """Read and validate params.yaml; raise ParamsError naming the file and key on any problem."""
    raw = read_yaml(path)
    if raw is None:
        raw = {}
    try:
        return from_dict(Params, raw, "")
    except ParamsError as exc:
        raise ParamsError(f"{path}: {exc}") from None


def from_dict(cls: type, raw: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a mapping, checking keys, types and ranges recursively."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{where or 'the top level'} must be a mapping, got {_show(raw)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            raise ParamsError(_unknown_key_message(_join(where, key), str(key), sorted(fields)))
    values = {}
    for name, f in fields.items():
        key = _join(where, name)
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ParamsError(f"{key} is missing ({f.metadata.get('help', 'required')})")
            continue
        values[name] = _check_value(raw[name], hints[name], key, f.metadata)
    check = getattr(cls, "__check__", None)
    if check is not None:  # checks across fields that need more than the field's own metadata
        check(values, where)
    try:
        return cls(**values)
    except ParamsError as exc:
        if where and not str(exc).startswith(where):
            raise ParamsError(f"{where}: {exc}") from None
        raise


def _check_value(value: Any, hint: Any, key: str, meta: typing.Mapping[str, Any]) -> Any:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check_value(value, inner[0], key, meta)
    if origin is Literal:
        if value not in args:
            raise ParamsError(f"{key} = {_show(value)} is not allowed; choose one of: {', '.join(map(str, args))}")
        return value
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, key)
    if origin is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{key} must be a mapping, got {_show(value)}")
        return {str(k): _check_value(v, args[1], _join(key, str(k)), {}) for k, v in value.items()}
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ParamsError(f"{key} must be a list, got {_show(value)}")
        item = args[0]
        out = [_check_value(v, item, f"{key}[{i}]", {}) for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if hint is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{key} = {_show(value)} must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{key} = {_show(value)} must be a whole number")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{key} = {_show(value)} must be a number")
        value = float(value)
    elif hint is str:
        if not isinstance(value, str):
            raise ParamsError(f"{key} = {_show(value)} must be a string")
        choices = meta.get("choices")
        if choices is not None and value not in choices:
            raise ParamsError(f"{key} = {value!r} is not allowed; choose one of: {', '.join(choices)}")
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise ParamsError(f"{key} = {value!r} is out of range; allowed: {_range(lo, hi)}")
    return value


def _did_you_mean(name: str, allowed: list[str]) -> str:
    """' (did you mean 'x'?)' for the closest of ``allowed``, or ''."""
    close = difflib.get_close_matches(name, allowed, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown_key_message(key: str, name: str, allowed: list[str]) -> str:
    return f"unknown key {key!r}{_did_you_mean(name, allowed)}; allowed here: {', '.join(allowed) or 'none'}"


def _join(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _show(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _range(lo: Any, hi: Any) -> str:
    if lo is not None and hi is not None:
        return f"{lo} <= value <= {hi}"
    return f">= {lo}" if lo is not None else f"<= {hi}"
