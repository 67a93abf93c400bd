"""Stages reference@<dataset>, metrics@<run> and metrics-table: params checks, the pieces, and
dvc repro of the whole chain (evaluator -> train -> reference -> metrics -> table) on tiny data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import bars, expand_code_deps, run_in, scratch_project

from ganlab.errors import GanlabError, ParamsError
from ganlab.params import load_params


TINY_TRAIN = {"seed": 0, "steps": 30, "batch_size": 16, "n_samples": 4, "sample_every": 30, "checkpoint_every": 30,
              "log_every": 10}
PARAMS = {
    "evaluators": {"mnist": {"width": 4, "features": 8, "epochs": 3, "batch_size": 32, "augment": "none"}},
    "models": {
        "gan": {"variant": "gan", "data": "mnist", "model": {"hidden": 16}, "train": TINY_TRAIN},
        "cgan": {"variant": "cgan", "data": "mnist", "model": {"hidden": 16}, "train": TINY_TRAIN},
    },
    "metrics": {"n_real": 64, "n_fake": 64, "batch_size": 16, "is_splits": 2, "kid_subsets": 10,
                "kid_subset_size": 16, "nearest_k": 3, "parzen": ["gan"], "references": {"mnist": "mnist"},
                "runs": {"gan": "mnist", "cgan": "mnist"}},
}


def write_params(path: Path, **changes: dict) -> Path:
    """PARAMS over the project's metrics: section (dvc needs every key a stage names), with ``changes``."""
    project = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())
    params = json.loads(json.dumps(PARAMS))
    params["metrics"] = {**project["metrics"], "parzen": [], **params["metrics"]}
    params["dedup"] = project["dedup"]
    for section, value in changes.items():
        params[section] = {**params.get(section, {}), **value}
    path.write_text(yaml.safe_dump(params))
    return path


def tiny_mnist(root: Path) -> None:
    from ganlab.data.datasets import write_content
    from ganlab.data.formats import ImageData, ImageSplit

    splits = {name: ImageSplit(*bars(n, seed)) for name, n, seed in (("train", 256, 0), ("test", 96, 1))}
    root.mkdir(parents=True)
    info = write_content(ImageData(splits, ["left", "right"]), root)
    (root / "dataset.json").write_text(json.dumps({"name": "mnist", **info}))


# --------------------------------------------------------------------------- params


@pytest.mark.parametrize("change, message", [
    ({"runs": {"gann": "mnist"}}, r"metrics\.runs\.gann: no run 'gann' under models: \(did you mean 'gan'\?\)"),
    ({"runs": {"gan": "fashion-mnist"}}, r"metrics\.runs\.gan = 'fashion-mnist', but models\.gan\.data = 'mnist'"),
    ({"references": {}}, r"metrics\.runs\.c?gan = 'mnist': add it to metrics\.references"),
    ({"references": {"mnist": "cifar10"}}, r"metrics\.references\.mnist = 'cifar10': no evaluators\.cifar10"),
    ({"parzen": ["dcgan"]}, r"metrics\.parzen names 'dcgan', which is not under metrics\.runs"),
    ({"extractor": "inception"}, r"metrics\.extractor.*inception-v3-compat"),
    ({"n_fake": 5}, r"metrics\.n_fake"),
])
def test_metrics_params_name_the_problem(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        load_params(write_params(tmp_path / "params.yaml", metrics=change))


def test_inception_extractor_needs_no_evaluator_stage(tmp_path: Path) -> None:
    p = load_params(write_params(tmp_path / "params.yaml", metrics={"extractor": "inception-v3-compat",
                                                                      "references": {"mnist": "cifar10"}}))
    assert p.metrics.references == {"mnist": "cifar10"}


# --------------------------------------------------------------------------- pieces


def _gan(conditional: bool = False):
    from ganlab.models import registry
    from ganlab.models.base import DataSpec

    cls = registry.get("cgan" if conditional else "gan")
    return cls(cls.Config(hidden=8), DataSpec((1, 8, 8), 3 if conditional else 0), torch.device("cpu"))


def test_generate_is_seeded_balanced_and_leaves_the_callers_rng() -> None:
    from ganlab.eval.pipeline import generate

    torch.manual_seed(123)
    before = torch.get_rng_state()
    v = _gan(conditional=True)
    torch.set_rng_state(before)
    a, labels = generate(v, 10, seed=5, batch_size=4)
    assert torch.equal(torch.get_rng_state(), before)
    b, _ = generate(v, 10, seed=5, batch_size=7)  # the batch size changes nothing
    c, _ = generate(v, 10, seed=6, batch_size=4)
    assert a.dtype == torch.uint8 and a.shape == (10, 1, 8, 8)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert labels.tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
    assert generate(_gan(), 4, 0, 4)[1] is None


def test_generate_refuses_non_finite_samples() -> None:
    from ganlab.eval.pipeline import generate

    v = _gan()
    with torch.no_grad():
        next(iter(v.nets["generator"].parameters())).fill_(float("nan"))
    with pytest.raises(GanlabError, match="non-finite pixels in samples 0..3"):
        generate(v, 4, 0, 4)


def test_metrics_stage_names_a_missing_reference_and_generator(tmp_path: Path) -> None:
    from ganlab.eval.pipeline import write_metrics_stage, write_reference_stage

    p = load_params(write_params(tmp_path / "params.yaml"))
    with pytest.raises(GanlabError, match=r"unknown key 'metrics\.runs\.dcgan'"):
        write_metrics_stage(p.metrics, p.dedup, "dcgan", tmp_path, tmp_path / "models", tmp_path / "refs", tmp_path / "o.json")
    with pytest.raises(GanlabError, match=r"generator\.pt: no such generator file"):
        write_metrics_stage(p.metrics, p.dedup, "gan", tmp_path, tmp_path / "models", tmp_path / "refs", tmp_path / "o.json")
    with pytest.raises(GanlabError, match=r"evaluator\.pt: no evaluator for mnist; run `dvc repro evaluator@mnist`"):
        write_reference_stage(p.metrics, p.dedup, "mnist", tmp_path, tmp_path / "refs" / "mnist")


# --------------------------------------------------------------------------- the chain under dvc repro


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dst = scratch_project(tmp_path / "project", ["evaluator", "train", "reference", "metrics", "metrics-table"])
    tiny_mnist(dst / "data" / "mnist")
    write_params(dst / "params.yaml")
    run_in(["git", "add", "-A"], dst)
    run_in(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "scratch"], dst)
    return dst


def test_repro_measures_every_run_with_its_protocol_then_does_nothing(project: Path) -> None:
    out = run_in(["dvc", "repro"], project, OMP_NUM_THREADS="1")
    for stage in ("evaluator@mnist", "train@gan", "train@cgan", "reference@mnist", "metrics@gan", "metrics@cgan",
                  "metrics-table"):
        assert f"Running stage '{stage}'" in out
    runs = project / "reports" / "metrics" / "runs"
    gan = json.loads((runs / "gan.json").read_text())
    cgan = json.loads((runs / "cgan.json").read_text())
    for result in (gan, cgan):
        assert result["fid"] > 0 and 0 <= result["precision"] <= 1 and 0 <= result["recall"] <= 1
        assert result["is_mean"] >= 1 and np.isfinite(result["kid_mean"])
        protocol = result["protocol"]
        assert protocol["extractor"] == "ganlab-evaluator" and protocol["n_real"] == 64 and protocol["n_fake"] == 64
        assert protocol["reference_split"] == "train" and protocol["dataset"] == "mnist"
        assert protocol["dataset_variant"] == "official" and protocol["evaluator_dataset"] == "mnist"
        weights = project / "data" / "evaluators" / "mnist" / "evaluator.pt"
        assert protocol["extractor_weights_sha256"] == json.loads(
            (project / "reports" / "evaluators" / "mnist.json").read_text())["weights_sha256"]
        assert weights.exists()
    assert "class_accuracy" not in gan
    for result in (gan, cgan):
        memo = result["memorisation"]
        assert 0 <= memo["confirmed_share"] <= memo["share"] <= 1 and memo["protocol"]["threshold_bits"] == 16
        assert memo["nearest"]["median_distance_generated"] > 0 and memo["nearest"]["n_train"] == 256
        assert len(memo["nearest"]["grid"]["samples"]) == 8 and len(memo["nearest"]["grid"]["train_indices"][0]) == 3
    from PIL import Image

    with Image.open(project / "reports" / "metrics" / "nearest" / "gan.png") as grid:
        assert grid.size == (2 + 4 * 10, 2 + 8 * 10)  # 8 rows of (sample + 3 neighbours), 8 px tiles, 2 px padding
    assert np.isfinite(gan["parzen"]["log_likelihood"]) and gan["parzen"]["protocol"]["n_samples"] == 64
    assert "parzen" not in cgan
    assert set(cgan["class_accuracy"]["per_class"]) == {"left", "right"}
    assert cgan["protocol"]["generated"]["conditional"] is True

    real = json.loads((project / "reports" / "metrics" / "real" / "mnist.json").read_text())
    assert real["memorisation"]["protocol"]["n_generated"] == 64  # held-out real images under the same check
    assert real["fid"] < gan["fid"] and real["fid"] < cgan["fid"]  # real held-out images are the floor
    one, noise = real["floors"]["one-image"], real["floors"]["noise"]  # the two failures, measured like a run
    assert one["is_mean"] == pytest.approx(1.0, abs=1e-6) and one["recall"] == 0.0 and noise["recall"] < real["recall"]
    assert min(one["fid"], noise["fid"]) > real["fid"] and "64 images of uniform random pixels" in noise["measured"]
    table = json.loads((project / "reports" / "metrics" / "table.json").read_text())
    assert set(table) == {"gan", "cgan", "real-mnist"} and table["gan"]["fid"] == pytest.approx(gan["fid"], abs=1e-5)
    readme = (project / "reports" / "metrics" / "README.md").read_text()
    assert "| gan | gan |" in readme and "Published numbers (not ours" in readme and "225 +- 2" in readme
    from ganlab.eval.floors import cell, judge

    for name, result in (("gan", gan), ("cgan", cgan)):  # each run's floors cell, by the rule, in table and README
        judged = judge(result, real, real["floors"])
        assert f"| {cell(judged)} |" in next(line for line in readme.splitlines() if line.startswith(f"| {name} |"))
        assert table[name].get("floors_clear") == {"clear": 1.0, "below": 0.0}.get(judged["verdict"])
    rows = (project / "reports" / "metrics" / "plots" / "mnist.csv").read_text().splitlines()
    assert rows[0] == "run,fid,kid_mean,is_mean,precision,recall,copies" and {r.split(",")[0] for r in rows[1:]} == {
        "gan", "cgan"}
    plotted = json.loads(run_in(["dvc", "plots", "show", "--json", "reports/metrics/plots/mnist.csv"], project))
    assert plotted["data"]  # DVC renders the cross-variant comparison
    shown = json.loads(run_in(["dvc", "metrics", "show", "--json"], project))
    assert any("reports/metrics/table.json" in str(v) for v in shown.values()) or "reports/metrics/table.json" in str(shown)

    assert "Running stage" not in run_in(["dvc", "repro"], project)
    # another sample count re-measures every run, and nothing upstream
    write_params(project / "params.yaml", metrics={"n_fake": 32, "memorisation_samples": 20})
    out = run_in(["dvc", "repro"], project, OMP_NUM_THREADS="1")
    assert "Running stage 'metrics@gan'" in out and "Running stage 'reference@mnist'" in out
    assert "Running stage 'train@gan'" not in out and "Running stage 'evaluator@mnist'" not in out
    gan = json.loads((runs / "gan.json").read_text())
    assert gan["protocol"]["n_fake"] == 32
    # both memorisation checks look at the first 20 samples; the nearest one against 20 held-out images
    assert gan["memorisation"]["protocol"]["n_generated"] == 20
    assert (gan["memorisation"]["nearest"]["n_generated"], gan["memorisation"]["nearest"]["n_heldout"]) == (20, 20)
    real = json.loads((project / "reports" / "metrics" / "real" / "mnist.json").read_text())
    assert real["memorisation"]["protocol"]["n_generated"] == 20
    # the held-out images' distances were searched once, by the reference stage, and every run reads them
    ref = json.loads((project / "data" / "references" / "mnist" / "reference.json").read_text())
    seed = load_params(project / "params.yaml").metrics.seed
    assert ref["heldout_nearest"]["n"] == ref["heldout_nearest"]["for_checked"] == 20
    assert ref["heldout_nearest"]["seed"] == seed + 1
    assert gan["memorisation"]["nearest"]["median_distance_heldout_real"] == ref["heldout_nearest"]["median_distance"]
    # a metrics stage run by hand under other params than its reference's says which stage to run
    write_params(project / "other.yaml", metrics={"n_fake": 32, "memorisation_samples": 10})
    refused = subprocess.run([sys.executable, "stages/metrics.py", "gan", "--params", "other.yaml", "--out-dir",
                              str(project.parent / "elsewhere")], cwd=project, capture_output=True, text=True)
    assert refused.returncode == 2 and "params ask for 10" in refused.stderr
    assert "dvc repro reference@mnist" in refused.stderr and not (project.parent / "elsewhere" / "runs").exists()

    # the trained generator is an artifact: registered by a version tag, fetched by name, sampled
    pipeline = yaml.safe_load((project / "dvc.yaml").read_text())
    pipeline["artifacts"] = {"gan": {"path": "data/models/gan/generator.pt", "type": "model"}}
    (project / "dvc.yaml").write_text(yaml.safe_dump(pipeline))
    run_in(["git", "add", "-A"], project)
    run_in(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "gan as an artifact"], project)
    run_in(["git", "-c", "user.name=t", "-c", "user.email=t@t", "tag", "-a", "gan@v0.1.0", "-m", "gan 0.1.0"],
           project)
    fetched = project.parent / "fetched"
    fetched.mkdir()
    run_in(["dvc", "artifacts", "get", str(project), "gan", "-o", "gan.pt"], fetched)
    assert (fetched / "gan.pt").read_bytes() == (project / "data" / "models" / "gan" / "generator.pt").read_bytes()
    run_in(["ganlab", "sample", "gan.pt", "--n", "4", "--out", "grid.png"], fetched)
    assert (fetched / "grid.png").stat().st_size > 0

    # shared through a DVC remote: push, clone elsewhere, pull, and nothing is out of date
    remote = project.parent / "storage"
    run_in(["dvc", "remote", "add", "-d", "local", str(remote)], project)
    run_in(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "a remote"], project)
    run_in(["dvc", "push"], project)
    clone = project.parent / "clone"
    run_in(["git", "clone", "-q", str(project), str(clone)], project.parent)
    run_in(["dvc", "pull"], clone)
    for path in ("data/models/gan/generator.pt", "data/references/mnist/train.npz", "data/evaluators/mnist/evaluator.pt"):
        assert (clone / path).read_bytes() == (project / path).read_bytes(), path
    assert "up to date" in run_in(["dvc", "status"], clone)
    assert "Running stage" not in run_in(["dvc", "repro"], clone, OMP_NUM_THREADS="1")

    # a second seed of gan as a DVC experiment (on the commit above): the variance table sees both
    out = run_in(["dvc", "exp", "run", "-n", "gan-seed1", "-S", "models.gan.train.seed=1"], project,
                 OMP_NUM_THREADS="1")
    assert "Running stage 'train@gan'" in out and "Running stage 'train@cgan'" not in out
    run_in(["ganlab", "variance", "--out", "reports/variance"], project)
    groups = json.loads((project / "reports" / "variance.json").read_text())
    gan_group = [g for g in groups if "gan-seed1" in g["members"]]
    assert len(gan_group) == 1
    fid = gan_group[0]["runs"]["gan"]["fid"]
    assert fid["n"] == 2 and fid["std"] > 0 and fid["min"] < fid["max"]
    assert gan_group[0]["varying_seeds"] == {"models.gan.train.seed": [0, 1]} or \
        sorted(gan_group[0]["varying_seeds"]["models.gan.train.seed"]) == [0, 1]
    assert gan_group[0]["runs"]["cgan"]["fid"]["std"] == 0  # cgan was not retrained


# --------------------------------------------------------------------------- the project's own dvc.yaml


def test_the_project_measures_every_image_run_and_the_transfer_stage_reads_its_checkpoints() -> None:
    from ganlab.models import registry

    root = Path(__file__).resolve().parents[2]
    p = load_params(root / "params.yaml")
    images = {name for name, run in p.models.items()
              if registry.get(run.variant).data_kind != "sequences" and run.data not in ("toy-gaussian", "domains")}
    assert images - set(p.metrics.runs) == set(), "image runs without a metrics@ stage"
    stage = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["transfer"]
    for run in p.transfer.runs:
        assert f"data/models/{run}/checkpoint.pt" in stage["deps"], run
        assert f"src/ganlab/models/{p.models[run].variant}.py" in expand_code_deps(stage["deps"], root), run
        assert f"models.{run}" in stage["params"], run


def test_a_dataset_measured_by_another_datasets_evaluator_says_how_its_images_were_converted(tmp_path: Path) -> None:
    """faces -> cifar10: grey 8x8 images through an evaluator of 16x16 colour images."""
    from ganlab.data.datasets import write_content
    from ganlab.data.formats import ImageData, ImageSplit
    from ganlab.eval.config import EvaluatorConfig
    from ganlab.eval.evaluator import save_evaluator, train_evaluator
    from ganlab.eval.pipeline import load_reference, write_reference_stage

    colour, labels = bars(128, 0)
    colour = np.repeat(np.repeat(np.repeat(colour, 2, 1), 2, 2), 3, 3)  # 16x16 RGB
    net = train_evaluator(colour, labels, ["left", "right"], EvaluatorConfig(width=4, features=8, epochs=1,
                          batch_size=32, augment="none"), dataset="cifar10", progress=False)
    save_evaluator(net, tmp_path / "data" / "evaluators" / "cifar10" / "evaluator.pt")
    root = tmp_path / "data" / "faces"
    root.mkdir(parents=True)
    grey = {name: ImageSplit(*bars(n, seed)) for name, n, seed in (("train", 40, 1), ("test", 12, 2))}
    info = write_content(ImageData(grey, ["a", "b"]), root)
    (root / "dataset.json").write_text(json.dumps({"name": "faces", **info}))
    p = load_params(write_params(tmp_path / "params.yaml", evaluators={"cifar10": {"epochs": 1}},
                                 metrics={"references": {"mnist": "mnist", "faces": "cifar10"}, "n_real": 0,
                                          "n_fake": 12, "kid_subset_size": 4, "is_splits": 2}))
    summary = write_reference_stage(p.metrics, p.dedup, "faces", tmp_path / "data", tmp_path / "refs" / "faces",
                                    baseline=tmp_path / "real.json")
    assert summary["splits"]["train"] == {"n": 40, "adapted": "grey repeated to RGB; 8x8 resized to 16x16 "
                                                              "(bilinear, antialiased)"}
    features, ref = load_reference(tmp_path / "refs" / "faces", "train")
    assert features.arrays["features"].shape == (40, 8) and ref["extractor_trained_on"].startswith("cifar10 train")
    real = json.loads((tmp_path / "real.json").read_text())
    assert real["protocol"]["reference_adapted"].startswith("grey repeated to RGB")
    assert real["protocol"]["evaluator_dataset"] == "cifar10" and real["protocol"]["n_fake"] == 12


def test_a_run_trained_at_a_smaller_image_size_is_measured_sampled_and_drawn(tmp_path: Path) -> None:
    """A DCGAN trained at train.image_size 8 on 16-px grey faces (as the default trains 32-px faces of the 64-px
    set): its 8-px samples are measured against the reference, whose real images reach the evaluator through
    the same resize; the copy checks, the nearest-neighbour grid and Parzen meet the training images shrunk to
    8 px; `ganlab sample`, the report's interpolations and its vector arithmetic draw 8-px images."""
    from PIL import Image
    from typer.testing import CliRunner

    from ganlab.cli import app
    from ganlab.data.datasets import load_images, write_content
    from ganlab.data.formats import ImageData, ImageSplit
    from ganlab.eval.config import EvaluatorConfig
    from ganlab.eval.evaluator import save_evaluator, train_evaluator
    from ganlab.eval.pipeline import as_trained, write_metrics_stage, write_reference_stage
    from ganlab.images import nchw, to_uint8
    from ganlab.report.config import ReportConfig
    from ganlab.report.latents import concept_arithmetic
    from ganlab.report.samples import interpolation_grid
    from ganlab.runs import RunDir, load_generator
    from ganlab.schema import from_dict
    from ganlab.train.run import load_training_data, train_run

    colour, labels = bars(128, 0)
    net = train_evaluator(np.repeat(colour, 3, 3), labels, ["left", "right"], EvaluatorConfig(  # 8x8 RGB
        width=4, features=8, epochs=1, batch_size=32, augment="none"), dataset="cifar10", progress=False)
    data = tmp_path / "data"
    save_evaluator(net, data / "evaluators" / "cifar10" / "evaluator.pt")
    root = data / "faces"
    root.mkdir(parents=True)
    grey = {name: ImageSplit(np.repeat(np.repeat(x, 2, 1), 2, 2), y)  # 16x16
            for name, (x, y) in (("train", bars(40, 1)), ("test", bars(12, 2)))}
    info = write_content(ImageData(grey, ["a", "b"]), root)
    (root / "dataset.json").write_text(json.dumps({"name": "faces", **info}))
    train = {"steps": 2, "batch_size": 8, "n_samples": 4, "dvclive": False, "image_size": 8}
    p = load_params(write_params(
        tmp_path / "params.yaml", evaluators={"cifar10": {"epochs": 1}},
        models={"f": {"variant": "dcgan", "data": "faces", "model": {"width": 4}, "train": train}},
        metrics={"references": {"mnist": "mnist", "faces": "cifar10"}, "runs": {"gan": "mnist", "cgan": "mnist",
                 "f": "faces"}, "parzen": ["f"], "n_real": 0, "n_fake": 12, "kid_subset_size": 4, "is_splits": 2,
                 "nearest_k": 2, "nearest_rows": 3}))
    train_run(p.models, "f", data, progress=False)
    write_reference_stage(p.metrics, p.dedup, "faces", data, tmp_path / "refs" / "faces")
    result = write_metrics_stage(p.metrics, p.dedup, "f", data, data / "models", tmp_path / "refs",
                                 tmp_path / "f.json", nearest_png=tmp_path / "nearest.png")
    assert np.isfinite(result["fid"]) and np.isfinite(result["parzen"]["log_likelihood"])
    assert result["protocol"]["generated"]["adapted"] == "grey repeated to RGB"  # 8 px already: no resize
    assert result["protocol"]["reference_adapted"] == "grey repeated to RGB; 16x16 resized to 8x8 (bilinear, antialiased)"
    memo = result["memorisation"]
    assert memo["protocol"]["train_images"] == ("faces's 16x16 train images resized to 8x8 (bilinear, antialiased), "
                                                "as the run trained")
    assert memo["protocol"]["n_train"] == 40 and memo["protocol"]["n_generated"] == 12
    with Image.open(tmp_path / "nearest.png") as grid:
        assert grid.size == (2 + 3 * 10, 2 + 3 * 10)  # 3 rows of (sample + 2 neighbours), 8 px tiles, 2 px padding
    # the training images a sample meets are the run's own, pixel for pixel
    full = load_images(root, "train")[0].images
    small, _ = as_trained(full, (8, 8), "faces")
    assert torch.equal(nchw(small), to_uint8(load_training_data(p.models["f"], data, False)[0]))
    with pytest.raises(GanlabError, match=r"the generator draws 32x32 images and faces's are 16x16"):
        as_trained(full, (32, 32), "faces")

    generator = RunDir.of("f", data).generator
    sampled = CliRunner().invoke(app, ["sample", str(generator), "--n", "4", "--out", str(tmp_path / "grid.png")])
    assert sampled.exit_code == 0, sampled.output
    with Image.open(tmp_path / "grid.png") as grid:
        assert grid.size == (2 + 2 * 10, 2 + 2 * 10)  # 2 x 2 samples of 8 px
    variant = load_generator(generator)
    with Image.open(interpolation_grid(variant, tmp_path / "walk.png", rows=2, steps=3)) as grid:
        assert grid.size == (2 + 3 * 10, 2 + 2 * 10)
    config = from_dict(ReportConfig, {"arithmetic_run": "f", "arithmetic_candidates": 6, "arithmetic_variations": 3,
                                      "arithmetic": {"x": {"a": [0], "b": [1], "c": [2]}}}, "report")
    candidates, figures = concept_arithmetic(variant, config)
    assert candidates.shape == (6, 1, 8, 8) and figures["x"][0].shape[1:] == (1, 8, 8)
