"""The run catalogue: profiles as overlays (`ganlab profile`), the parts of params.yaml and dvc.yaml derived from
models: (`ganlab pipeline`), and every stage's code deps read from its script's imports (the train stage's
from each variant's too) into the manifests of stage code."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ganlab.catalogue import apply_overlay, dump_yaml, load_yaml, stale_parts, write_pipeline, write_profile
from ganlab.cli import app
from ganlab.codedeps import imports_of, module_closure, package_modules, stage_code, stage_names
from ganlab.errors import GanlabError, ParamsError
from ganlab.manifests import INDEX, stage_manifests, write_manifests
from ganlab.params import load_params
from helpers import expand_code_deps

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """params.yaml, dvc.yaml and the profiles in a folder of their own; the code is the project's."""
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    (tmp_path / "src").symlink_to(ROOT / "src")
    (tmp_path / "stages").symlink_to(ROOT / "stages")
    return tmp_path


def pipeline_of(project: Path) -> dict:
    return yaml.safe_load((project / "dvc.yaml").read_text())


# --------------------------------------------------------------------------- ganlab pipeline


def test_committed_params_and_dvc_yaml_are_what_ganlab_pipeline_writes():
    assert stale_parts(ROOT / "params.yaml", ROOT / "dvc.yaml") == [], "run `ganlab pipeline`"
    result = runner.invoke(app, ["pipeline", "--check", "--params", str(ROOT / "params.yaml"),
                                 "--dvc", str(ROOT / "dvc.yaml")])
    assert result.exit_code == 0, result.output


def test_check_names_the_stale_part_and_pipeline_rewrites_it(project, caplog):
    dvc = project / "dvc.yaml"
    dvc.write_text(dvc.read_text().replace("    labels: [vqvae, mnist]\n", ""))
    args = ["--params", str(project / "params.yaml"), "--dvc", str(dvc)]
    result = runner.invoke(app, ["pipeline", "--check", *args])
    assert result.exit_code == 1
    assert "dvc.yaml: artifacts is stale" in caplog.text and "train.foreach" not in caplog.text
    assert runner.invoke(app, ["pipeline", *args]).exit_code == 0
    assert dvc.read_text() == (ROOT / "dvc.yaml").read_text()
    assert runner.invoke(app, ["pipeline", "--check", *args]).exit_code == 0


def test_a_new_run_gets_its_metrics_stage_artifact_train_item_and_plot_lines(project):
    params = project / "params.yaml"
    params.write_text(params.read_text().rstrip("\n") + """
  lsgan-seed1:  # an extra image run
    variant: lsgan  # registered variant
    data: mnist  # digits
  translation:  # a translation run: its test scores, no metrics stage
    variant: cyclegan  # registered variant
    data: domains  # the two domains
  coco-mle:  # a sequence run: the sequences stage reads it
    variant: seq_mle  # registered variant
    data: coco-captions  # the captions
""")
    assert set(stale_parts(params, project / "dvc.yaml")) == {
        "params.yaml: metrics.runs", "dvc.yaml: train.foreach", "dvc.yaml: sequences.deps",
        "dvc.yaml: sequences.params", "dvc.yaml: plots", "dvc.yaml: artifacts"}
    assert set(write_pipeline(params, project / "dvc.yaml")) == {params, project / "dvc.yaml"}

    p = load_params(params)
    assert p.metrics.runs["lsgan-seed1"] == "mnist" and "translation" not in p.metrics.runs and "coco-mle" not in p.metrics.runs
    assert "    lsgan-seed1: mnist  # as models.lsgan-seed1.data\n" in params.read_text()
    dvc = pipeline_of(project)
    assert dvc["artifacts"]["lsgan-seed1"] == {"path": "data/models/lsgan-seed1/generator.pt", "type": "model",
                                         "desc": "lsgan trained on mnist (params.yaml models.lsgan-seed1)",
                                         "labels": ["lsgan", "mnist"]}
    item = dvc["stages"]["train"]["foreach"]["lsgan-seed1"]
    assert item["data"] == "${models.lsgan-seed1.data}"  # read from params.yaml, so `dvc exp run -S` can change it
    assert item["code"] == "data/code/train-lsgan.sha256"  # its variant's manifest: lsgan.py, dcgan.py, ...
    assert list(item) == list(dvc["stages"]["train"]["foreach"]["gan"])  # every item has the same keys
    loss = next(plot["generator-loss"] for plot in dvc["plots"] if "generator-loss" in plot)
    assert "data/models/lsgan-seed1/dvclive/plots/metrics/train/loss_g.tsv" in loss["y"]
    sequences = dvc["stages"]["sequences"]
    assert "data/models/coco-mle/train_summary.json" in sequences["deps"] and "models.coco-mle" in sequences["params"]
    assert "models.translation" not in sequences["params"]
    assert stale_parts(params, project / "dvc.yaml") == []


def test_each_claim_stage_reads_its_own_studys_folder_and_params_only():
    """A change to the ring's runs re-runs the ring's claims, not the grid's; a claim that trains its own networks
    reads claims.own_seeds and its code; a claim that reads an evaluator network or a reference depends on it."""
    from ganlab.claims.verdict import all_claims

    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["claim"]
    assert stage["do"]["params"] == ["claims.seeds", "${item.params}"]
    assert stage["do"]["deps"][:2] == ["${item.needs}", "${item.reads}"]
    items = stage["foreach"]
    assert list(items) == list(all_claims())
    code = "data/code/claim.sha256"
    studies = yaml.safe_load((ROOT / "params.yaml").read_text())["claims"]["studies"]
    for cid, c in all_claims().items():
        reads = code
        if c.reads_evaluator or c.reads_reference:  # the evaluator or reference of its study's one dataset
            (dataset,) = {run["data"] for run in studies[c.study]["runs"].values()}
            reads = f"data/{'evaluators' if c.reads_evaluator else 'references'}/{dataset}"
        if c.study:
            assert items[cid] == {"needs": f"data/studies/{c.study}", "reads": reads,
                                  "params": f"claims.studies.{c.study}"}, cid
        else:
            assert items[cid] == {"needs": code, "reads": code, "params": "claims.own_seeds"}, cid
    assert items["conditional-follows-label"]["reads"] == "data/evaluators/mnist"
    assert items["sagan-attention"]["reads"] == "data/references/mnist"
    assert items["mode-collapse-grid"]["params"] != items["mode-collapse-ring"]["params"]


def test_pipeline_names_an_unknown_variant_and_a_missing_region(project):
    params = project / "params.yaml"
    good = params.read_text()
    params.write_text(good.rstrip("\n") + "\n  x:  # a typo\n    variant: dcgna  # registered variant\n    data: mnist  # digits\n")
    with pytest.raises(GanlabError, match=r"models\.x\.variant: unknown variant 'dcgna'"):
        write_pipeline(params, project / "dvc.yaml")
    params.write_text(good.replace("    # <<< ganlab pipeline: metrics.runs\n", ""))
    with pytest.raises(GanlabError, match=r"params\.yaml: region 'metrics\.runs' \(line \d+\) has no end marker"):
        write_pipeline(params, project / "dvc.yaml")


# --------------------------------------------------------------------------- train@<run>'s code deps


def resolved_train_deps() -> dict[str, set[str]]:
    """run -> the deps of its train@ stage in the committed dvc.yaml, ${item.*} filled in, its code manifest
    read as the files it lists."""
    train = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["train"]
    runs = load_params(ROOT / "params.yaml").models
    deps = {}
    for run, item in train["foreach"].items():
        item = {**item, "data": runs[run].data}
        listed = [re.sub(r"\$\{item\.(\w+)\}", lambda m: item[m.group(1)], d) for d in train["do"]["deps"]]
        assert f"data/code/train-{runs[run].variant}.sha256" in listed, run  # its own variant's manifest
        deps[run] = set(expand_code_deps(listed, ROOT))
    return deps


def test_train_code_deps_are_the_variants_imports():
    dcgan, acgan, gan = (set(stage_code("train", ROOT, v)) for v in ("dcgan", "acgan", "gan"))
    models = "src/ganlab/models/"
    assert {models + "gan.py", models + "dcgan.py", models + "base.py", models + "registry.py"} <= dcgan
    assert models + "cyclegan.py" not in dcgan and models + "seqgan.py" not in dcgan
    assert models + "dcgan.py" in acgan and models + "acgan.py" not in dcgan
    assert models + "dcgan.py" not in gan
    assert {"src/ganlab/train/trainer.py", "src/ganlab/train/run.py", "src/ganlab/params.py"} <= gan
    deps = resolved_train_deps()
    assert deps["dcgan"] - {"data/mnist"} == dcgan  # stages/train.py is generated with the rest
    assert deps["acgan"] - {"data/mnist"} == acgan


def test_editing_a_variant_reruns_only_the_runs_built_on_it():
    """A run's train@ stage lists the module of every class its variant inherits from, and not the modules of
    variants it does not build on: editing dcgan.py re-runs acgan, not gan or the VAEs."""
    from ganlab.models import registry

    deps = resolved_train_deps()
    runs = load_params(ROOT / "params.yaml").models
    for run, params in runs.items():
        for cls in registry.get(params.variant).__mro__:
            if cls.__module__.startswith("ganlab.models."):
                assert f"src/{cls.__module__.replace('.', '/')}.py" in deps[run], (run, cls)
    rerun = {run for run, files in deps.items() if "src/ganlab/models/dcgan.py" in files}
    assert {"dcgan", "dcgan-faces", "dcgan-cifar10", "acgan", "infogan", "wgan_gp"} <= rerun
    assert not rerun & {"gan", "gan-toy", "vae", "vae-2d", "aae", "vqvae", "oracle-mle", "coco-seqgan"}


def test_module_closure_follows_lazy_and_relative_imports_but_not_type_checking_ones(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    for name in ("__init__", "b", "c", "d", "unused"):
        (pkg / f"{name}.py").write_text("")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\nimport os\nfrom . import b\n"
        "if TYPE_CHECKING:\n    from pkg import d\n"
        "def f():\n    from pkg.c import thing\n")
    assert module_closure(["pkg.a"], tmp_path) == ["pkg", "pkg.a", "pkg.b", "pkg.c"]


# --------------------------------------------------------------------------- every stage's code deps


def stage_deps() -> dict[str, tuple[str, list[str]]]:
    """stage -> (the script its cmd runs, its deps) in the committed dvc.yaml."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    found = {}
    for name, stage in stages.items():
        body = stage.get("do", stage)
        script = re.search(r"\bpython (stages/\S+\.py)", body["cmd"])
        if script:
            found[name] = (script.group(1), [d for d in body["deps"] if isinstance(d, str)])
    return found


def test_every_stage_lists_its_manifest_which_lists_its_script_and_the_files_its_imports_reach():
    committed = stage_deps()
    assert len(committed) == 17 and set(committed) == set(stage_names(ROOT))
    assert committed.pop("code") == ("stages/code.py", ["src/ganlab", "stages"])  # it reads the folders themselves
    manifests = stage_manifests(ROOT)
    for stage, (script, deps) in committed.items():
        own = "${item.code}" if stage == "train" else f"data/code/{stage}.sha256"
        assert [d for d in deps if d.startswith(("data/code/", "${item.code"))] == [own], stage
        assert not [d for d in deps if d.startswith(("src/", "stages/"))], stage  # code only through the manifest
        code = stage_code(stage, ROOT)
        assert code[0] == script, stage  # the script its cmd runs, as the generator reads it
        if stage != "train":
            assert manifests[f"{stage}.sha256"] == code, stage
        assert all((ROOT / p).is_file() for p in code), stage  # files, not folders
        assert "src/ganlab/console.py" in code and "src/ganlab/cli.py" not in code, stage


def test_stage_code_deps_known_answers():
    """report/samples.py imports eval/pipeline.py: the report stage runs it. fetch reaches the model registry only
    through params checking (ganlab.params -> ganlab.train.config -> ganlab.models.registry), no variant."""
    src = ROOT / "src"
    assert "ganlab.eval.pipeline" in imports_of("ganlab.report.samples", src)
    report = stage_code("report", ROOT)
    assert {"src/ganlab/report/samples.py", "src/ganlab/eval/pipeline.py", "src/ganlab/eval/metrics.py"} <= set(report)
    fetch = stage_code("fetch", ROOT)
    assert {"src/ganlab/data/fetch.py", "src/ganlab/data/download.py", "src/ganlab/params.py"} <= set(fetch)
    assert {p for p in fetch if p.startswith("src/ganlab/models/")} == {
        "src/ganlab/models/__init__.py", "src/ganlab/models/registry.py", "src/ganlab/models/base.py"}
    assert not {p for p in fetch if p.startswith(("src/ganlab/eval/", "src/ganlab/train/"))} - {
        "src/ganlab/eval/__init__.py", "src/ganlab/eval/config.py", "src/ganlab/train/__init__.py",
        "src/ganlab/train/config.py"}
    # a stage that builds any run's variant from its file runs every module the registry imports
    models = {f"src/{m.replace('.', '/')}.py" for m in package_modules("ganlab.models", src) if m != "ganlab.models"}
    for stage in ("metrics", "report", "transfer"):
        assert models <= set(stage_code(stage, ROOT)), stage
    assert "src/ganlab/models/dcgan.py" not in stage_code("reference", ROOT)
    # the code every train run shares holds no variant's module: each run lists its own
    from ganlab.models import registry

    shared = set(stage_code("train", ROOT))
    assert "stages/train.py" in shared and "src/ganlab/params.py" in shared
    for name in registry.names():
        assert f"src/{registry.get(name).__module__.replace('.', '/')}.py" not in shared, name


def test_manifests_hash_each_listed_file_and_a_new_import_changes_its_stages_manifest_alone(tmp_path):
    """Stage code's output: `sha256sum -c` lines of each stage's files. A new import in stages/toy.py changes
    toy's manifest (so DVC re-runs toy) and no other, and needs no `ganlab pipeline`: dvc.yaml stays up to date."""
    import hashlib

    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    for folder in ("src", "stages"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    before = write_manifests(tmp_path, tmp_path / "data" / "code")
    first = {p.name: p.read_text() for p in (tmp_path / "data" / "code").iterdir()}
    assert set(first) == set(before) | {INDEX}
    assert "train-dcgan.sha256" in first and "train.sha256" not in first and "code.sha256" not in first
    for line in first["toy.sha256"].splitlines():
        digest, path = line.split("  ")
        assert digest == hashlib.sha256((tmp_path / path).read_bytes()).hexdigest(), path
    assert [line.split("  ")[1] for line in first["toy.sha256"].splitlines()] == stage_code("toy", tmp_path)

    toy = tmp_path / "stages" / "toy.py"
    toy.write_text(toy.read_text().replace("import typer\n", "import typer\n\nfrom ganlab.eval import bleu\n"))
    write_manifests(tmp_path, tmp_path / "data" / "code")
    second = {p.name: p.read_text() for p in (tmp_path / "data" / "code").iterdir()}
    assert {name for name in first if first[name] != second[name]} == {"toy.sha256", INDEX}
    assert "src/ganlab/eval/bleu.py" in second["toy.sha256"] and "src/ganlab/eval/bleu.py" not in first["toy.sha256"]
    assert stale_parts(tmp_path / "params.yaml", tmp_path / "dvc.yaml") == []

    # an edit (not an import) to a file a stage runs changes that line's hash
    (tmp_path / "src" / "ganlab" / "data" / "toy.py").write_text("# edited\n", encoding="utf-8")
    write_manifests(tmp_path, tmp_path / "data" / "code")
    third = {p.name: p.read_text() for p in (tmp_path / "data" / "code").iterdir()}
    changed = {name for name in second if second[name] != third[name]} - {INDEX}
    assert "toy.sha256" in changed and "fetch.sha256" not in changed and "train-dcgan.sha256" in changed


def test_manifests_refuse_a_folder_they_did_not_write(tmp_path):
    """The output folder holds a user's file: refused with its name, nothing lost."""
    out = tmp_path / "code"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(GanlabError, match=r"holds files ganlab did not write \(notes\.txt"):
        write_manifests(ROOT, out)
    assert (out / "notes.txt").read_text() == "mine"


# --------------------------------------------------------------------------- ganlab profile


def test_profile_writes_valid_params_that_keep_every_comment(tmp_path):
    out = tmp_path / "tiny.yaml"
    result = runner.invoke(app, ["profile", "tiny", "--base", str(ROOT / "params.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    load_params(out)
    for line in (ROOT / "params.yaml").read_text().splitlines():
        if line.lstrip().startswith("#"):
            assert line in text, line
    assert "      steps: 6  # tiny: a few steps: every stage runs end to end, no number means anything (was 1500)" in text
    assert text.startswith("# Profile tiny: params.yaml with profiles/tiny.yaml applied")
    assert "  cgan:  # conditional MLP GAN: one column per digit in the grid\n" in text  # a run of params.yaml, kept


def test_profile_beside_dvc_yaml_brings_the_pipeline_along_and_dvc_reads_it(project):
    params = project / "params.yaml"
    assert write_profile("paper", params, params) == [params, project / "dvc.yaml"]  # it adds runs
    dvc = pipeline_of(project)
    assert "coco-mle" in dvc["stages"]["train"]["foreach"] and "coco-mle" in dvc["artifacts"]
    assert stale_parts(params, project / "dvc.yaml") == []
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=project, check=True)
    listed = subprocess.run([sys.executable, "-m", "dvc", "stage", "list", "--name-only"], cwd=project,
                            capture_output=True, text=True, check=True).stdout.split()
    assert {"train@coco-mle", "train@cgan", "train@cyclegan", "metrics@cgan", "sequences", "report"} <= set(listed)
    assert "metrics@cyclegan" not in listed


def test_an_overlay_merges_places_new_keys_drops_and_labels_what_it_changes():
    base = load_yaml("""\
runs:  # the runs
  a:  # first
    steps: 10  # ten steps
  b:  # second
    steps: 20  # twenty
    lr: 0.1  # tuned

  # the c block
  c:  # third
    steps: 30  # thirty
top: [1, 2]  # a list
""", "base")
    overlay = load_yaml("""\
runs:
  a: {}  # placement: the new run follows a
  a2:  # a new run
    steps: 5  # five
  b:
    lr: ~  # the default again
runs.*.steps: 7  # every run's steps
top: [3]  # shorter
""", "overlay")
    apply_overlay(base, overlay, "p")
    assert dump_yaml(base) == """\
runs:  # the runs
  a:  # first
    steps: 7  # p: every run's steps (was 10)
  a2:  # a new run
    steps: 7  # p: every run's steps (was 5)
  b:  # second
    steps: 7  # p: every run's steps (was 20)

  # the c block
  c:  # third
    steps: 7  # p: every run's steps (was 30)
top: [3]  # p: shorter (was [1, 2])
"""


@pytest.mark.parametrize("overlay, message", [
    (None, r"profile 'nope': no .*nope\.yaml; profiles: bad"),
    ("models.*.train.stepz: 5  # typo\n", r"profile 'bad': models\.\*\.train\.stepz matches no key of the base"),
    ("models:\n  nope: ~  # not there\n", r"profile 'bad': models\.nope: null drops a key, and the base has none"),
    ("metrics.n_fake: -1  # out of range\n", r"profile 'bad': metrics\.n_fake = -1 is out of range"),
    ("extends: bad  # itself\n", r"profile 'bad': extends itself"),
    ("seed: [\n", r"profile 'bad' .*: not valid YAML"),
    # what load_params refuses, refused before ruamel builds (and the merge walks) the overlay
    ("toy: &t {mu: 1.0}  # a\nfaces: *t  # b\n", r"profile 'bad' \(.*bad\.yaml\), line 2, column 8: YAML alias \*t is not "
                                                r"allowed: params files take no anchors \(&\) or aliases \(\*\)"),
    ("seed: 1  # a\nseed: 2  # b\n", r"profile 'bad' \(.*bad\.yaml\), line 2, column 1: key 'seed' appears twice in one "
                                      r"mapping, on line 1 and line 2"),
    (b"seed: 1  # caf\xe9\n", r"bad\.yaml: not UTF-8 text \(byte 0xe9 on line 1\); a profile is UTF-8"),
])
def test_profile_errors_exit_2_naming_the_profile_and_key(tmp_path, caplog, overlay, message):
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "bad.yaml").write_bytes(overlay if isinstance(overlay, bytes) else (overlay or "seed: 1  # fine\n").encode())
    out = tmp_path / "params.yaml"
    result = runner.invoke(app, ["profile", "bad" if overlay else "nope", "--base", str(ROOT / "params.yaml"),
                                 "--out", str(out), "--profiles", str(folder)])
    assert result.exit_code == 2
    assert re.search(message, caplog.text), caplog.text
    assert not out.exists()


@pytest.mark.parametrize("change, message", [
    (lambda t: t.replace("models:\n", "models: &m\n", 1), r"params\.yaml, line \d+, column 9: YAML anchor &m is not allowed"),
    (lambda t: t.rstrip("\n") + "\nseed: 3\n", r"params\.yaml, line \d+, column 1: key 'seed' appears twice in one mapping, on line \d+ "
                               r"and line \d+"),
])
def test_pipeline_refuses_what_load_params_refuses_and_writes_nothing(project, caplog, change, message):
    params = project / "params.yaml"
    params.write_text(change(params.read_text()))
    before = params.read_text(), (project / "dvc.yaml").read_text()
    for check in ([], ["--check"]):
        caplog.clear()
        result = runner.invoke(app, ["pipeline", "--params", str(params), "--dvc", str(project / "dvc.yaml"), *check])
        assert result.exit_code == 2 and re.search(message, caplog.text), caplog.text
    assert (params.read_text(), (project / "dvc.yaml").read_text()) == before


def test_pipeline_names_a_params_path_that_is_a_folder(tmp_path, caplog):
    result = runner.invoke(app, ["pipeline", "--params", str(tmp_path), "--dvc", str(ROOT / "dvc.yaml"), "--check"])
    assert result.exit_code == 2 and f"{tmp_path}: is a folder, not a file" in caplog.text


def test_write_profile_needs_a_known_profile_and_the_default_params(project):
    params = project / "params.yaml"
    with pytest.raises(ParamsError, match=r"profile 'huge': no .*; profiles: claims, paper, tiny"):
        write_profile("huge", params, params)
    assert params.read_text() == (ROOT / "params.yaml").read_text()
    write_profile("tiny", params, params)
    tiny = params.read_text()
    # paper over tiny would keep tiny's metric cuts: a profile starts from the default params
    with pytest.raises(ParamsError, match=r"params\.yaml: Profile tiny: .* Start from the default params "
                                          r"\(`git checkout params\.yaml dvc\.yaml`\)"):
        write_profile("paper", params, params)
    assert params.read_text() == tiny
