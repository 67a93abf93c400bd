"""The training sections of params.yaml: ``models.<run>`` (RunParams) and its ``train:`` (TrainParams).

They live beside the trainer that reads them; ganlab.params only assembles them under ``models:``.
Importing this module does not import torch: the model registry loads the variants (and torch)
only when a run is checked, so a params file without ``models:`` is validated without torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ganlab.data import kinds
from ganlab.errors import ParamsError
from ganlab.models import registry
from ganlab.schema import check_name, did_you_mean, from_dict, hp, shown, unknown_key_message

AMP_MODES = ("auto", "bf16", "off")
#: the device names ganlab.device.pick_device knows: checked here, when the params are read, so a misspelt
#: device stops `ganlab check-params`, not a run after its data are loaded (torch-free: device.py imports torch)
DEVICE_NAME = re.compile(r"auto|cpu|mps|cuda(?::[0-9]{1,3})?")
DEVICE_FORMS = "auto, cpu, cuda, cuda:N (N = 0, 1, ...), mps"


def check_image_size(size: int, kind: Any, shape: tuple[int, ...], dataset: str, where: str) -> None:
    """Refuse an image side ``size`` (params ``train.image_size``, named ``where``) that ``dataset`` (of
    ``kind``, items of ``shape`` (C, H, W)) cannot be shrunk to: it holds no images, its images are not
    square, or they are smaller (a resize up adds pixels, no detail: the dataset's own side is 0)."""
    if kind != "images" or len(shape) != 3:
        raise ParamsError(f"{where} = {size}: {dataset} holds {kind}, not images; only image data are resized "
                          "(0 = the data as they are)")
    _, h, w = shape
    if h != w:
        raise ParamsError(f"{where} = {size}: the images of {dataset} are {h}x{w}; only square images are resized")
    if size > h:
        raise ParamsError(f"{where} = {size}: {dataset}'s images are {h} px; image_size only shrinks them "
                          f"(1..{h}, or 0 for their own side)")


@dataclass(frozen=True)
class TrainParams:
    """The trainer's settings for one run (``models.<run>.train``); see ganlab.train.trainer."""

    steps: int = hp(1000, "optimisation steps (generator updates for GANs)", min=1, max=10**9)
    batch_size: int = hp(64, "images per batch (per critic iteration for WGANs)", min=1, max=65536)
    seed: int = hp(0, "seed of weights, noise and batch order: same seed, same weights on CPU", min=0, max=2**31 - 1)
    image_size: int = hp(0, "side in px the run trains and samples at: the dataset's square images are shrunk to "
                         "it when read (bilinear, antialiased: the resize the metrics give an evaluator), so the "
                         "dataset stays as it is; 0 = the dataset's own side. A CPU setting: 32-px faces of a "
                         "64-px set make each step ~4x cheaper", min=0, max=16384)
    device: str = hp("auto", "auto = cuda, then mps, then cpu; or cpu, cuda, cuda:N (the N-th GPU), mps",
                     pattern=DEVICE_NAME, forms=DEVICE_FORMS)
    amp: str = hp("auto", "auto = bfloat16 autocast on CUDA, float32 elsewhere; bf16 forces it; off",
                  choices=AMP_MODES)
    checkpoint_every: int = hp(500, "steps between checkpoints (and one at the end, and on SIGINT/SIGTERM)",
                               min=1, max=10**9)
    keep_generators: bool = hp(False, "also write the generator at each checkpoint, generators/step_N.pt (as "
                               "generator.pt), for what follows a measure over training (a claim's FID against a "
                               "critic's estimate); false = only the final generator.pt")
    sample_every: int = hp(500, "steps between sample grids from the fixed noise batch", min=1, max=10**9)
    log_every: int = hp(50, "steps between dvclive log rows", min=1, max=10**9)
    eval_every: int = hp(0, "steps between scores of the generator on the run's data (NLL-oracle on the oracle, "
                         "BLEU on text), logged as eval/<name>; they are always taken at step 0 and at the end; "
                         "0 = only then", min=0, max=10**9)
    n_samples: int = hp(64, "images per grid (100 = a 10 x 10 grid, a column per class for conditional models)",
                        min=1, max=1024)
    snapshot_steps: tuple[int, ...] = hp((), "steps of the run's MLE pre-training kept in snapshots/step_N.pt "
                                         "(network, optimizer, RNG state, scores) for the runs that start from it "
                                         "(their pretrained_from); [] = none")
    dvclive: bool = hp(True, "log losses and images/s with dvclive (OUT/dvclive), for dvc plots")
    channels_last: bool = hp(True, "NHWC memory format for the networks and image batches: x1.17 to x1.19 for "
                             "DCGAN on 2 CPU cores (benchmarks/trainer_speed.py); off for the NCHW default")


@dataclass(frozen=True)
class RunParams:
    """One training run (``models.<run>``): a variant, its data, its hyperparameters, the trainer's settings."""

    variant: str = hp("", "registered variant name (ganlab variants lists them)")
    data: str = hp("mnist", "dataset to train on: a fetched image dataset, faces, toy-gaussian, toy-ring, toy-grid or domains")
    pretrained_from: str = hp("", "a run whose MLE pre-training this one starts from, instead of repeating it: "
                              "that run's snapshot at this run's model.pretrain_steps (its train.snapshot_steps "
                              "keep it); '' = the run pre-trains itself")
    model: Any = hp({}, "the variant's hyperparameters; unset ones take the paper's defaults")
    train: TrainParams = hp(TrainParams(), "trainer settings")

    @staticmethod
    def __check__(values: dict[str, Any], where: str) -> None:
        """Validate ``variant``, ``data`` and ``model`` against the registry, and ``train.steps`` against the
        variant's phases.

        This is where torch is first imported: the registry loads the variant modules, since a
        variant's Config lives beside its networks."""
        variant = values.get("variant", "")
        if variant not in registry.names():
            raise ParamsError(unknown_key_message(f"{where}.variant", variant, registry.names())
                              .replace("unknown key", "unknown variant"))
        kind = registry.get(variant).data_kind
        allowed = kinds.datasets_for(kind)
        data = values.get("data", "mnist")
        if data not in allowed:
            raise ParamsError(f"{where}.data = {shown(data)}: variant {variant!r} trains on {kind}; choose one of: "
                              f"{', '.join(allowed)}")
        raw_model = values.get("model", {})
        values["model"] = from_dict(registry.get(variant).Config, raw_model, f"{where}.model")
        # models.base holds the phase rule beside Variant.phases; it imports torch, which a params file
        # without models: must not load, so it is imported here, where the variant's module already has
        from ganlab.models.base import phase_steps_error

        train = values.get("train", TrainParams())
        if train.image_size and kind != "images":
            raise ParamsError(f"{where}.train.image_size = {train.image_size}: variant {variant!r} trains on {kind}, "
                              "not images; only image runs take one (0 = the data's own)")
        source = values.get("pretrained_from", "")
        if source:
            check_name(source, f"{where}.pretrained_from", "a run's name under models:")
            model = values["model"]
            if registry.get(variant).pretraining is None or not hasattr(model, "pretrain_steps"):
                raise ParamsError(f"{where}.pretrained_from = {shown(source)}: variant {variant!r} has no MLE "
                                  "pre-training (model.pretrain_steps) to start from another run's")
            if "pretrain_steps" not in raw_model:  # dvc.yaml names the snapshot from it: ${...pretrain_steps}
                raise ParamsError(f"{where}.model.pretrain_steps is missing: with pretrained_from it names the "
                                  f"snapshot of {source} the run starts from (dvc.yaml reads it); write it out")
            if model.pretrain_steps < 1:
                raise ParamsError(f"{where}.model.pretrain_steps = {model.pretrain_steps}: with pretrained_from "
                                  "there must be a pre-training to start from (at least 1 step)")
            if values.get("train", TrainParams()).snapshot_steps:
                raise ParamsError(f"{where}.train.snapshot_steps: a run that starts from {source}'s pre-training "
                                  f"does not train one to keep; keep it in models.{source}.train.snapshot_steps")
        phases = registry.get(variant).phases(values["model"])
        problem = phase_steps_error(phases, train.steps)
        if problem:
            raise ParamsError(f"{where}.train.steps = {train.steps}: {variant} {problem}")
        _check_snapshot_steps(variant, phases, train, where)

    def variant_config(self) -> Any:
        """The variant's Config (validated when the params were loaded)."""
        return self.model


def _check_snapshot_steps(variant: str, phases: list[Any], train: TrainParams, where: str) -> None:
    """Each of ``train.snapshot_steps`` is a step the run reaches inside its leading MLE phase, once."""
    key = f"{where}.train.snapshot_steps"
    steps = train.snapshot_steps
    if not steps:
        return
    first = phases[0]
    mle = registry.get(variant).pretraining is not None and first.name == "mle"
    if not mle:
        raise ParamsError(f"{key} = {shown(list(steps))}: variant {variant!r} has no MLE pre-training to keep "
                          "(only the sequence variants begin with one)")
    for step in steps:
        end = train.steps if first.steps is None else min(first.steps, train.steps)
        if not 1 <= step <= end:
            raise ParamsError(f"{key} = {shown(list(steps))}: step {step} is not in the run's MLE phase "
                              f"(steps 1 to {end})")
    if len(set(steps)) != len(steps):
        raise ParamsError(f"{key} = {shown(list(steps))}: a step is listed twice")


def check_pretrained(models: dict[str, RunParams]) -> None:
    """Every ``pretrained_from`` names another run under models: that pre-trains itself, keeps a snapshot at
    this run's ``model.pretrain_steps`` and trains the same MLE: the same data, seed, batch size, precision
    and language-model settings, so that its first steps are bit for bit this run's own."""
    for name, run in models.items():
        source = run.pretrained_from
        if not source:
            continue
        where = f"models.{name}"
        if source not in models or source == name:
            why = "the run itself" if source == name else f"no run under models:{did_you_mean(source, list(models))}"
            raise ParamsError(f"{where}.pretrained_from = {shown(source)}: {why}; name another run, whose "
                              "train.snapshot_steps keep its pre-training")
        src = models[source]
        if src.pretrained_from:
            raise ParamsError(f"{where}.pretrained_from = {shown(source)}: that run starts from "
                              f"{src.pretrained_from}'s pre-training itself; name {src.pretrained_from}")
        step = run.model.pretrain_steps
        if step not in src.train.snapshot_steps:
            raise ParamsError(f"{where}.model.pretrain_steps = {step}, but models.{source}.train.snapshot_steps = "
                              f"{shown(list(src.train.snapshot_steps))} keeps no snapshot at step {step} "
                              f"(pretrained_from: {source}); add it there")
        fields = registry.get(run.variant).pretraining.fields
        pairs = [("data", run.data, src.data)]
        pairs += [(f"model.{f}", getattr(run.model, f), getattr(src.model, f, None)) for f in fields]
        pairs += [(f"train.{f}", getattr(run.train, f), getattr(src.train, f)) for f in ("seed", "batch_size", "amp")]
        for key, mine, theirs in pairs:
            if mine != theirs:
                raise ParamsError(
                    f"{where}.{key} = {shown(mine)}, but models.{source}.{key} = {shown(theirs)}: a run starts from "
                    f"another's pre-training (pretrained_from: {source}) only with the same data, seed, batch size, "
                    f"amp and {', '.join(fields)}, which make it its own first steps; set both, or drop pretrained_from")
