"""params.yaml validation: every problem stops before any work, naming key, value and what is allowed."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from ganlab.params import Params, load_params
from ganlab.errors import ParamsError

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_committed_params_are_valid():
    params = load_params(ROOT / "params.yaml")
    assert isinstance(params, Params)
    assert set(params.data) == {"mnist", "fashion-mnist", "cifar10", "lfw", "coco-captions"}


def test_every_committed_value_has_a_comment():
    for n, line in enumerate((ROOT / "params.yaml").read_text().splitlines(), 1):
        if ":" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition(":")
            if value.strip() and not value.strip().startswith("#"):  # a leaf value
                assert "#" in value, f"params.yaml line {n} has no comment: {line!r}"


@pytest.mark.parametrize(
    "text, message",
    [
        ("seed: 0\nsed: 1\n", r"unknown key 'sed' \(did you mean 'seed'\?\); allowed here: claims, data, dedup, domains, evaluators, faces, metrics, models, oracle, report, seed, toy, toy2d, transfer"),
        # the report's own settings (ganlab.report.config)
        ("report: {arithmetic_candidates: 8, arithmetic: {x: {a: [1], b: [2], c: [9]}}}\nmodels:\n  dcgan-faces: {variant: dcgan, data: faces}\n", r"report\.arithmetic\.x\.c = \[9\]: \[9\] outside the 8 candidates \(0\.\.7\)"),
        ("report: {arithmetic: {x: {a: [1], b: [], c: [3]}}}\nmodels:\n  dcgan-faces: {variant: dcgan, data: faces}\n", r"report\.arithmetic\.x\.b is empty"),
        ("report: {arithmetic_run: dcgan-face, arithmetic: {x: {a: [1], b: [2], c: [3]}}}\n", r"report\.arithmetic_run = 'dcgan-face': no such run under models"),
        ("report: {interpolation_step: 3}\n", r"unknown key 'report\.interpolation_step' \(did you mean 'interpolation_steps'\?\)"),
        ("evaluators:\n  lfw: {epochs: 1}\n", r"evaluators\.lfw: an evaluator is trained on a labelled image dataset; choose one of: cifar10, fashion-mnist, mnist"),
        ("evaluators:\n  mnist: {epoch: 1}\n", r"unknown key 'evaluators\.mnist\.epoch' \(did you mean 'epochs'\?\)"),
        ("evaluators:\n  mnist: {augment: rotate}\n", r"evaluators\.mnist\.augment = 'rotate' is not allowed"),
        ("data:\n  mnist:\n    varient: auto\n", r"unknown key 'data\.mnist\.varient' \(did you mean 'variant'\?\)"),
        ("data:\n  mnsit: {variant: auto}\n", r"unknown key 'data\.mnsit' \(did you mean 'mnist'\?\).*coco-captions"),
        ("seed: abc\n", r"seed = 'abc' \(str\) must be a whole number"),
        ("seed: 1.5\n", r"seed = 1\.5 \(float\) must be a whole number"),
        ("seed: true\n", r"seed = True \(bool\) must be a whole number"),
        ("seed: -1\n", r"seed = -1 is out of range; allowed: 0 <= value <= 2147483647"),
        ("data:\n  cifar10:\n    variant: jpeg\n", r"data\.cifar10\.variant = 'jpeg' is not allowed; choose one of: auto, official, jpeg-q75"),
        ("data: [mnist]\n", r"data must be a mapping, got \['mnist'\]"),
        ("data:\n  mnist: auto\n", r"data\.mnist must be a mapping, got 'auto'"),
        ("- 1\n- 2\n", r"the top level must be a mapping"),
        ("seed: [\n", r"not valid YAML"),
        # training runs: the variant, its data, its own hyperparameters and the trainer's settings
        ("models:\n  a: {variant: dcgna}\n", r"unknown variant 'models\.a\.variant' \(did you mean 'dcgan'\?\)"),
        ("models:\n  a: {variant: dcgan, data: lfw}\n", r"models\.a\.data = 'lfw': variant 'dcgan' trains on images; choose one of: cifar10, domains, faces"),
        ("models:\n  a: {variant: dcgan, data: oracle}\n", r"data = 'oracle': variant 'dcgan' trains on images"),
        ("models:\n  a: {variant: seqgan, data: mnist}\n", r"data = 'mnist': variant 'seqgan' trains on sequences; choose one of: coco-captions, oracle"),
        ("models:\n  a: {variant: seqgan, data: oracle, model: {d_filter_sizes: [1, 2], d_filter_counts: [5]}}\n", r"must be equally long"),
        ("models:\n  a: {variant: seqgan, data: oracle, model: {reward: bleu}}\n", r"reward = 'bleu' is not allowed; choose one of: discriminator, constant"),
        ("models:\n  a: {variant: dcgan, model: {widht: 8}}\n", r"unknown key 'models\.a\.model\.widht' \(did you mean 'width'\?\)"),
        ("models:\n  a: {variant: wgan, model: {n_critic: 0}}\n", r"models\.a\.model\.n_critic = 0 is out of range; allowed: 1 <="),
        ("models:\n  a: {variant: wgan_gp, model: {lr: fast}}\n", r"models\.a\.model\.lr = 'fast' \(str\) must be a number"),
        ("models:\n  a: {variant: gan, model: {arch: affine}}\n", r"arch = 'affine' \(the 1-D toy\) needs z_dim = 1"),
        ("models:\n  a: {variant: infogan, model: {n_categories: 0, n_continuous: 0}}\n", r"infogan needs at least one code"),
        ("models:\n  a: {variant: gan, train: {amp: fp8}}\n", r"models\.a\.train\.amp = 'fp8' is not allowed; choose one of: auto, bf16, off"),
        ("models:\n  a: {variant: gan, train: {step: 5}}\n", r"unknown key 'models\.a\.train\.step' \(did you mean 'steps'\?\)"),
        ("models:\n  a: {variant: gan, train: {batch_size: 0}}\n", r"models\.a\.train\.batch_size = 0 is out of range"),
        ("models:\n  a: {variant: dcgan, train: {image_size: -32}}\n", r"models\.a\.train\.image_size = -32 is out of range; allowed: 0 <= value <= 16384"),
        ("models:\n  a: {variant: dcgan, train: {image_size: 31.5}}\n", r"models\.a\.train\.image_size = 31\.5 \(float\) must be a whole number"),
        ("models:\n  a: {variant: seq_mle, data: oracle, train: {image_size: 16}}\n", r"models\.a\.train\.image_size = 16: variant 'seq_mle' trains on sequences, not images; only image runs take one"),
    ],
)
def test_bad_params_are_named(tmp_path, text, message):
    refused_in_one_line(tmp_path, text, message)


def refused_in_one_line(tmp_path: Path, text: str, message: str) -> None:
    """``text`` as a params file is refused with ``message``, in one line that starts with the file and stays
    short however long the value at fault is."""
    path = write(tmp_path, text)
    with pytest.raises(ParamsError, match=message) as err:
        load_params(path)
    line = str(err.value)
    assert line.startswith(f"{path}: ") and "\n" not in line and len(line) < len(str(path)) + 300, line


SEQGAN = ("models:\n  a: {variant: seqgan, data: oracle, model: {pretrain_steps: 5, d_pretrain_steps: 3}, "
          "train: {steps: STEPS}}\n")


@pytest.mark.parametrize("steps", [8, 20])
def test_a_run_whose_fixed_phases_fit_its_steps_is_accepted(tmp_path, steps):
    # 8: MLE and discriminator pre-training only; 20: and 12 adversarial iterations
    assert load_params(write(tmp_path, SEQGAN.replace("STEPS", str(steps)))).models["a"].train.steps == steps


@pytest.mark.parametrize(
    "text, message",
    [
        (SEQGAN.replace("STEPS", "7"), r"models\.a\.train\.steps = 7: seqgan trains mle 5 \+ discriminator 3 = 8 steps "
                                       r"before its adversarial phase; train\.steps must be at least 8$"),
        # the paper's schedule does not fit the trainer's default 1,000 steps
        ("models:\n  a: {variant: maligan, data: oracle}\n",
         r"models\.a\.train\.steps = 1000: maligan trains mle 18720 \+ discriminator 46800 = 65520 steps"),
        ("models:\n  a: {variant: vqvae, model: {vq_steps: 300}, train: {steps: 200}}\n",
         r"models\.a\.train\.steps = 200: vqvae trains auto-encoder 300 = 300 steps before its prior phase"),
    ],
)
def test_a_run_whose_fixed_phases_do_not_fit_its_steps_is_refused(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ParamsError, match=message) as err:
        load_params(path)
    assert "\n" not in str(err.value) and str(err.value).startswith(str(path))


def test_phases_without_an_open_end_must_fill_the_steps_exactly():
    from ganlab.models.base import Phase, phase_steps_error

    fixed = [Phase("warm-up", 3), Phase("main", 7)]
    assert phase_steps_error(fixed, 10) == ""
    assert phase_steps_error(fixed, 11) == phase_steps_error(fixed, 9) == \
        "trains warm-up 3 + main 7 = 10 steps; train.steps must be 10"
    assert phase_steps_error([Phase("train", None)], 1) == ""


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ParamsError, match=r"no-such\.yaml: no such params file"):
        load_params(tmp_path / "no-such.yaml")


def test_yaml_12_floats_are_floats(tmp_path):
    # DVC writes `-S lr=1e-4` without a dot; PyYAML alone would read the string '1e-4'
    from ganlab.schema import read_yaml

    path = write(tmp_path, "a: 1e-4\nb: 2.5E+3\nc: 1.0\nd: '1e-4'\ne: 7\n")
    assert read_yaml(path) == {"a": 1e-4, "b": 2500.0, "c": 1.0, "d": "1e-4", "e": 7}


def test_stage_stops_on_bad_params_before_any_work(tmp_path):
    path = write(tmp_path, "data:\n  mnist:\n    variant: official\n    extra: 1\n")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "stages" / "fetch.py"), "mnist", "--params", str(path), "--out-root", str(tmp_path / "data")],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "unknown key 'data.mnist.extra'" in proc.stderr
    assert not (tmp_path / "data").exists()


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    """name -> the params `ganlab profile NAME` writes from the committed params.yaml, validated."""
    from ganlab.catalogue import write_profile

    folder = tmp_path_factory.mktemp("profiles")

    def written(name: str) -> Params:
        out = folder / f"{name}.yaml"
        if not out.exists():
            write_profile(name, ROOT / "params.yaml", out)
        return load_params(out)

    return written


def test_every_variant_has_a_run_in_the_default_and_each_run_validates():
    from ganlab.models import registry

    params = load_params(ROOT / "params.yaml")
    # a variant's run is under models: (a stage train@<run>) or in a study of the claims (trained over the seeds
    # by study@<study>: Unrolled GAN and DRAGAN, whose papers' claims are about the 2-D toys)
    studied = {run.variant for study in params.claims.studies.values() for run in study.runs.values()}
    assert {run.variant for run in params.models.values()} | studied == set(registry.names())
    assert studied - {run.variant for run in params.models.values()} == {"unrolled_gan", "dragan"}
    for name, run in params.models.items():
        assert isinstance(run.model, registry.get(run.variant).Config), name
    # every image run is measured; sequence and translation runs have reports of their own
    measured = {name for name, run in params.models.items() if run.data in ("mnist", "cifar10", "faces")}
    assert set(params.metrics.runs) == measured
    assert all(params.metrics.runs[name] == params.models[name].data for name in measured)


def test_model_section_fills_unset_hyperparameters_with_the_paper_defaults(tmp_path):
    path = write(tmp_path, "models:\n  w: {variant: wgan, model: {width: 16}}\n")
    cfg = load_params(path).models["w"].model
    assert (cfg.width, cfg.clip, cfg.n_critic, cfg.lr) == (16, 0.01, 5, 5e-5)


def test_paper_profile_is_valid_and_matches_params_outside_the_models(profiled):
    params = load_params(ROOT / "params.yaml")
    paper = profiled("paper")
    # the paper profile has every run of params.yaml, and the sequence study's controls besides
    assert set(params.models) <= set(paper.models)
    # the CPU default trains 32-px faces; the paper's generator draws the faces' own 64 px
    assert params.models["dcgan-faces"].train.image_size == 32 and paper.models["dcgan-faces"].train.image_size == 0
    for field in ("seed", "data", "faces", "dedup", "toy", "toy2d", "oracle", "evaluators", "domains", "transfer",
                  "report"):
        assert getattr(paper, field) == getattr(params, field), field
    # the metrics are the same but for which runs they measure (the paper's runs train on other datasets) and
    # how many images: the one-hour default measures 5,000, the paper profile the field's 10,000
    assert (paper.metrics.n_real, paper.metrics.n_fake) == (10000, 10000)
    assert params.metrics.n_real == params.metrics.n_fake < paper.metrics.n_fake
    def same(m):
        return dataclasses.replace(m, runs={}, n_real=0, n_fake=10)
    assert same(paper.metrics) == same(params.metrics)


@pytest.mark.parametrize("variant", __import__("ganlab.models.registry", fromlist=["names"]).names())
def test_every_variant_validates_its_model_section(tmp_path, variant):
    import dataclasses

    from ganlab.models import registry

    data = "oracle" if registry.get(variant).data_kind == "sequences" else "mnist"
    path = write(tmp_path, f"models:\n  a: {{variant: {variant}, data: {data}, model: {{bogus: 1}}}}\n")
    with pytest.raises(ParamsError, match=r"unknown key 'models\.a\.model\.bogus'; allowed here: .*lr"):
        load_params(path)
    for f in dataclasses.fields(registry.get(variant).Config):  # every hyperparameter says why and is bounded
        assert f.metadata.get("help"), f"{variant}.{f.name} has no help"
        if f.type in ("int", "float"):
            assert "min" in f.metadata and "max" in f.metadata, f"{variant}.{f.name} has no range"
            path = write(tmp_path, f"models:\n  a: {{variant: {variant}, data: {data}, model: {{{f.name}: -1000000}}}}\n")
            with pytest.raises(ParamsError, match=rf"models\.a\.model\.{f.name} = -1000000(\.0)? is out of range"):
                load_params(path)


def test_tiny_profile_is_the_default_cut_down(profiled):
    # CI's end-to-end run trains every run of the default
    params, small = load_params(ROOT / "params.yaml"), profiled("tiny")
    assert set(small.models) == set(params.models) and set(small.metrics.runs) == set(params.metrics.runs)
    assert all(run.train.steps <= 9 for run in small.models.values())
    assert all(e.epochs == 1 and e.train_subset == 2000 for e in small.evaluators.values())
    assert small.metrics.n_fake == 200 and small.transfer.train_subset == 2000


def test_committed_lock_records_only_stages_of_the_default_pipeline():
    """dvc.lock keeps the entry of a stage whose run has left params.yaml (DVC does not prune it), and
    `dvc pull` under a profile with that run would then ask the remote for outputs it never had."""
    import yaml

    listed = subprocess.run([sys.executable, "-m", "dvc", "stage", "list", "--name-only"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    assert "train@dcgan" in listed and "report" in listed
    locked = yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"]
    stale = sorted(set(locked) - set(listed))
    assert not stale, f"dvc.lock: entries of stages not in the pipeline under params.yaml: {stale}; delete their blocks"


# --------------------------------------------------------------------------- hostile or mistaken files (issue 26)


@pytest.mark.parametrize(
    "text, message",
    [
        # every float field, at any depth, is finite: nan passes every bound check, inf any open one
        ("models:\n  a: {variant: gan, model: {lr: .nan}}\n", r"models\.a\.model\.lr = nan must be a finite number \(1e-08 <= value <= 1\.0\); \.nan, \.inf and -\.inf are not$"),
        ("toy: {mu: -.inf}\n", r"toy\.mu = -inf must be a finite number"),
        ("transfer: {runs: [], c_grid: [0.1, .inf]}\n", r"transfer\.c_grid\[1\] = inf must be a finite number; "),
        ("evaluators:\n  mnist: {lr: .NaN}\n", r"evaluators\.mnist\.lr = nan must be a finite number"),
        ("toy: {mu: 1" + "0" * 400 + "}\n", r"toy\.mu = 1000+\.\.\.0+ must be a finite number"),  # past float's range
        # a device name is checked when the params are read; whether this machine has it, when a run starts
        ("models:\n  a: {variant: gan, train: {device: gpu9}}\n", r"models\.a\.train\.device = 'gpu9' is not allowed; use one of: auto, cpu, cuda, cuda:N \(N = 0, 1, \.\.\.\), mps$"),
        ("models:\n  a: {variant: gan, train: {device: 'cuda:'}}\n", r"device = 'cuda:' is not allowed"),
        ("models:\n  a: {variant: gan, train: {device: CPU}}\n", r"device = 'CPU' is not allowed"),
        # a run's name is a folder under data/models
        ("models:\n  ../x: {variant: gan}\n", r"models: the name '\.\./x' is not allowed \(a run's name is its folder, data/models/<run>\); use lower-case"),
        ("models:\n  a/b: {variant: gan}\n", r"the name 'a/b' is not allowed"),
        ("models:\n  .hidden: {variant: gan}\n", r"the name '\.hidden' is not allowed"),
        ("models:\n  a..b: {variant: gan}\n", r"the name 'a\.\.b' is not allowed"),
        ("models:\n  DCGAN: {variant: gan}\n", r"the name 'DCGAN' is not allowed"),
        ("models:\n  " + "a" * 65 + ": {variant: gan}\n", r"the name 'a{65}' is not allowed"),
        ("models:\n  " + "a" * 200 + ": {variant: gan}\n", r"the name 'a+\.\.\.a+' is not allowed"),  # cut
        ("models:\n  true: {variant: gan}\n", r"the name True is not allowed"),
        # names that are joined into paths elsewhere are names from a closed list
        ("models:\n  a: {variant: gan, data: ../../etc}\n", r"models\.a\.data = '\.\./\.\./etc': variant 'gan' trains on images; choose one of"),
        ("domains: {source_a: ../mnist}\n", r"domains\.source_a = '\.\./mnist' is not an image dataset"),
        ("data:\n  ../mnist: {variant: auto}\n", r"unknown key 'data\.\.\./mnist'"),
        ("evaluators:\n  ../mnist: {}\n", r"evaluators\.\.\./mnist: an evaluator is trained on a labelled image dataset"),
        ("metrics: {references: {../mnist: mnist}}\n", r"metrics\.references\.\.\./mnist: references are image datasets"),
        ("metrics: {runs: {../a: mnist}}\n", r"metrics\.runs\.\.\./a: no run '\.\./a' under models:"),
        ("report: {arithmetic_run: ../a, arithmetic: {x: {a: [1], b: [2], c: [3]}}}\n", r"report\.arithmetic_run = '\.\./a': no such run"),
    ],
)
def test_hostile_values_are_refused_in_one_short_line(tmp_path, text, message):
    refused_in_one_line(tmp_path, text, message)


def test_every_committed_run_name_and_every_name_a_path_is_made_of_is_a_safe_name():
    """The names that become folders and files: the runs of params.yaml and of the profiles, the datasets, the
    variants. A new one that the name rule refuses fails here, not in a user's params."""
    import yaml

    from ganlab.data.kinds import dataset_names
    from ganlab.models import registry
    from ganlab.schema import check_name

    runs = set()
    for path in [ROOT / "params.yaml", *sorted((ROOT / "profiles").glob("*.yaml"))]:
        runs |= set((yaml.safe_load(path.read_text()) or {}).get("models") or {})
    assert {"gan", "dcgan-faces", "wgan_gp", "oracle-seqgan-control"} <= runs
    for name in sorted(runs | set(dataset_names()) | set(registry.names())):
        check_name(name, "models", "a test")


@pytest.mark.parametrize("name", ["..", "../x", "a/b", "a\\b", "", ".x", "-x", "_x", "a..b", "A", "a b", "é", "a" * 65,
                                  None, 1.5, True, ["a"]])
def test_unsafe_names_are_refused(name):
    from ganlab.schema import check_name

    with pytest.raises(ParamsError, match=r"^models: the name .* is not allowed \(a folder\); use lower-case letters"):
        check_name(name, "models", "a folder")


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps"])
def test_every_device_form_is_accepted_when_the_params_are_read(tmp_path, device):
    # whether this machine has it is ganlab.device.pick_device's to say, when a run starts (tests/test_device.py)
    path = write(tmp_path, f"models:\n  a: {{variant: gan, train: {{device: '{device}'}}}}\n")
    assert load_params(path).models["a"].train.device == device


def alias_bomb(levels: int) -> str:
    """Nested aliases: level k lists level k-1 nine times, 9**levels strings once expanded."""
    lines = ["seed:", "  l0: &l0 [x,x,x,x,x,x,x,x,x]"]
    lines += [f"  l{k}: &l{k} [{','.join([f'*l{k - 1}'] * 9)}]" for k in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_yaml_aliases_are_refused_where_they_stand(tmp_path):
    with pytest.raises(ParamsError) as err:
        load_params(write(tmp_path, alias_bomb(9)))
    assert str(err.value) == (f"{tmp_path / 'params.yaml'}, line 3, column 12: YAML alias *l0 is not allowed: params "
                              "files take no anchors (&) or aliases (*); write the value out where it is used")
    # deep inside a run, in a flow list, and an anchor that nothing repeats
    text = "models:\n  a:\n    variant: gan\n    train: &t {steps: 3}\n  b:\n    variant: gan\n    train: *t\n"
    with pytest.raises(ParamsError, match=r"params\.yaml, line 7, column 12: YAML alias \*t is not allowed"):
        load_params(write(tmp_path, text))
    with pytest.raises(ParamsError, match=r"params\.yaml, line 2, column 25: YAML alias \*x is not allowed"):
        load_params(write(tmp_path, "seed: 1\ntransfer: {runs: [&x a, *x]}\n"))
    with pytest.raises(ParamsError, match=r"params\.yaml, line 2, column 7: YAML anchor &s is not allowed: params "
                                          r"files take no anchors \(&\) or aliases \(\*\); remove it$"):
        load_params(write(tmp_path, "toy:\n  mu: &s 1.0\n"))


@pytest.mark.parametrize("name", ["params.yaml", "dvc.yaml",
                                  *sorted(f"profiles/{p.name}" for p in (ROOT / "profiles").glob("*.yaml"))])
def test_libyaml_reads_the_project_files_as_the_checking_loader_does(name):
    """parse_yaml reads through libyaml when the events hold no anchor or alias: the same values, types
    and key order as the pure-Python loader that checks as it composes (1e-4 a float, in both)."""
    import yaml

    from ganlab import schema

    text = (ROOT / name).read_text()
    slow = yaml.load(text, Loader=schema._Yaml12Loader)  # noqa: S506 - a SafeLoader subclass
    assert schema._FastYaml12Loader.__mro__[2] is getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    assert repr(schema.parse_yaml(text, name)) == repr(slow)
    assert schema.parse_yaml("lr: 1e-4\nn: 1_000\nx: .5\n", "p") == {"lr": 1e-4, "n": 1000, "x": 0.5}


def test_duplicate_keys_are_refused_at_every_depth_naming_both_lines(tmp_path):
    with pytest.raises(ParamsError, match=r"params\.yaml, line 3, column 1: key 'seed' appears twice in one mapping, "
                                          r"on line 1 and line 3; DVC refuses a duplicate key: keep one$"):
        load_params(write(tmp_path, "seed: 1\ntoy: {}\nseed: 2\n"))
    text = "models:\n  a:\n    variant: gan\n    train:\n      steps: 3\n      batch_size: 8\n      steps: 4\n"
    with pytest.raises(ParamsError, match=r"line 7, column 7: key 'steps' appears twice in one mapping, on line 5 and "
                                          r"line 7"):
        load_params(write(tmp_path, text))
    with pytest.raises(ParamsError, match=r"line 1, column 30: key 'c' appears twice in one mapping, on line 1 \(columns 23 and 30\);"):
        load_params(write(tmp_path, "report: {arithmetic: {c: {}, c: {}}}\n"))
    # equal, not the same text: YAML reads both as the whole number 1
    with pytest.raises(ParamsError, match=r"key 1 appears twice in one mapping, on line 1 and line 2"):
        load_params(write(tmp_path, "1: a\n0x1: b\n"))


def test_a_value_in_a_message_is_cut_however_large_or_deep():
    from ganlab.schema import show, shown

    deep: list = ["x"] * 9
    for _ in range(5):  # 9**6 strings, shared as an alias bomb shares them: repr() would write 3.5 MB
        deep = [deep] * 9
    assert len(show(deep)) <= 80 + len(" (list)") and show(deep).endswith("... (list)")
    assert len(shown("y" * 10**6)) == 80 and "y...y" in shown("y" * 10**6)  # reprlib keeps both ends
    assert shown({"a": {"b": {"c": {"d": 1}}}}) == "{'a': {'b': {'c': {...}}}}"
    assert shown(int("9" * 4000)).startswith("99999")  # past reprlib's own limit, cut to 80
    assert shown(0.25) == "0.25" and shown("gpu9") == "'gpu9'"


def test_a_wrong_type_in_a_huge_value_is_named_in_a_short_line(tmp_path):
    text = "seed: [" + ", ".join(f"[{i}, {i}]" for i in range(20000)) + "]\n"
    with pytest.raises(ParamsError, match=r"seed = \[\[0, 0\], \[1, 1\], \[2, 2\], \[3, 3\], \[4, 4\], \[5, 5\], \.\.\.\] \(list\) must be a whole number$") as err:
        load_params(write(tmp_path, text))
    assert len(str(err.value)) < len(str(tmp_path)) + 150


def test_a_params_path_that_is_no_params_file_is_named(tmp_path, monkeypatch):
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    with pytest.raises(ParamsError, match=r"folder\.yaml: is a folder, not a params file$"):
        load_params(folder)
    with pytest.raises(ParamsError, match=r"params\.yaml: not UTF-8 text \(byte 0xff on line 3\); a params file is UTF-8$"):
        path = tmp_path / "params.yaml"
        path.write_bytes(b"seed: 1\n\nmodels: {}  # \xff\n")
        load_params(path)
    with pytest.raises(ParamsError, match=r"params\.yaml: empty; a params file is a mapping of sections"):
        load_params(write(tmp_path, "# all commented out\n"))
    with pytest.raises(ParamsError, match=r"params\.yaml: not valid YAML: unacceptable character #x0000"):
        load_params(write(tmp_path, "seed: 1\x00\n"))
    with pytest.raises(ParamsError, match=r"params\.yaml: not a params file: its lists or mappings nest too deeply$"):
        load_params(write(tmp_path, "seed: " + "[" * 100_000 + "]" * 100_000 + "\n"))
    with pytest.raises(ParamsError, match=r"params\.yaml: not a params file: Exceeds the limit \(4300 digits\)"):
        load_params(write(tmp_path, "seed: " + "9" * 5000 + "\n"))
    path = write(tmp_path, "seed: 1\n")

    def denied(self):  # what a file of mode 000 gives a user who is not root (tests often run as root)
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(ParamsError, match=r"params\.yaml: cannot read the params file: permission denied$"):
        load_params(path)


def test_claims_studies_are_checked_like_runs_and_share_one_dataset(tmp_path):
    ok = "claims:\n  studies:\n    s:\n      runs:\n        a: {variant: gan, data: toy-ring, model: {arch: toy}}\n"
    claims = load_params(write(tmp_path, ok)).claims
    assert claims.studies["s"].runs["a"].model.arch == "toy"
    assert claims.seeds_of("s") == claims.seeds == (0, 1, 2)  # a study without seeds of its own: claims.seeds
    own = ok.replace("      runs:", "      seeds: [3, 4, 5, 6, 7]\n      runs:")
    assert load_params(write(tmp_path, own)).claims.seeds_of("s") == (3, 4, 5, 6, 7)
    assert load_params(write(tmp_path, own)).claims.seeds_of("") == (0, 1, 2)  # a claim without a study
    assert load_params(write(tmp_path, "claims:\n  own_seeds: [5, 6]\n")).claims.seeds_of("") == (5, 6)
    with pytest.raises(ParamsError, match=r"claims.own_seeds = \[5, 5\]: a seed appears twice"):
        load_params(write(tmp_path, "claims:\n  own_seeds: [5, 5]\n"))
    two = ok + "        b: {variant: gan, data: toy-grid, model: {arch: toy}}\n"
    with pytest.raises(ParamsError, match=r"claims.studies.s.runs: its runs train on toy-grid, toy-ring"):
        load_params(write(tmp_path, two))
    typo = ok.replace("arch: toy}", "arch: toyy}")
    with pytest.raises(ParamsError, match=r"claims.studies.s.runs.a.model.arch"):
        load_params(write(tmp_path, typo))
    with pytest.raises(ParamsError, match=r"claims.seeds = \[0, 0\]: a seed appears twice"):
        load_params(write(tmp_path, "claims:\n  seeds: [0, 0]\n"))
    with pytest.raises(ParamsError, match=r"claims.studies.s.seeds = \[1, -1\]: seeds are >= 0"):
        load_params(write(tmp_path, ok.replace("      runs:", "      seeds: [1, -1]\n      runs:")))
    with pytest.raises(ParamsError, match=r"claims.seeds is empty"):
        load_params(write(tmp_path, "claims:\n  seeds: []\n"))
    with pytest.raises(ParamsError, match=r"claims.studies.s.runs: the study has no runs"):
        load_params(write(tmp_path, "claims:\n  studies:\n    s:\n      seeds: [0, 1]\n"))
    with pytest.raises(ParamsError, match=r"claims.studies.s.runs.*not allowed"):
        load_params(write(tmp_path, "claims:\n  studies:\n    s:\n      runs:\n        ../x: {variant: gan, data: toy-ring}\n"))