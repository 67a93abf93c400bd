"""The trainer's own guarantees, on the contract's tiny variants: resume, seeds, stops, logs, precision, test scores."""

from __future__ import annotations

from pathlib import Path

import json
import math
import os
import signal
import types

import pytest
import torch
from tiny_variants import SHAPE, config, data, make, weights

from ganlab.errors import GanlabError
from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.runs import RunDir
from ganlab.files import OutputRefused
from ganlab.train.trainer import RunConflict, RunStopped, Trainer, TrainingDiverged


def test_training_seconds_add_up_over_a_resume(tmp_path, monkeypatch):
    import json

    from ganlab.train import trainer

    clock = iter(range(0, 10_000, 5))  # every perf_counter() call of the trainer advances 5 s
    monkeypatch.setattr(trainer, "time", types.SimpleNamespace(perf_counter=lambda: float(next(clock))))
    x, y = data()
    first = Trainer(make("gan"), x, y, config(steps=2), tmp_path).fit(progress=False)
    second = Trainer(make("gan"), x, y, config(), tmp_path).fit(progress=False)
    assert first["seconds"] > 0
    assert second["seconds"] > first["seconds"]  # the second part's time is added to the first's
    fresh = Trainer(make("gan"), x, y, config(), tmp_path / "fresh").fit(progress=False)
    assert second["seconds"] - first["seconds"] < fresh["seconds"]  # the resumed part did only steps 3-4
    assert json.loads((tmp_path / "train_summary.json").read_text())["seconds"] == second["seconds"]


def test_same_seed_same_weights_different_seed_different(tmp_path):
    x, y = data()
    runs = []
    for k, seed in enumerate((0, 0, 1)):
        t = Trainer(make("dcgan", seed), x, y, config(seed=seed), tmp_path / str(k))
        t.fit(progress=False)
        runs.append(weights(t.variant))
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not all(torch.equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_nan_loss_stops_with_variant_step_and_loss_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    x, y = data()
    v = make("gan")
    real_step = v.step

    def step(xb, yb, step):
        out = real_step(xb, yb, step)
        return {**out, "loss_d": float("nan")} if step == 2 else out

    monkeypatch.setattr(v, "step", step)
    t = Trainer(v, x, y, config(), tmp_path)
    with pytest.raises(TrainingDiverged, match=r"gan: loss loss_d = nan at step 2"):
        t.fit(progress=False)
    saved = torch.load(RunDir(tmp_path).checkpoint, weights_only=True)
    assert saved["step"] == 2


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_writes_a_checkpoint_and_ends_in_a_nonzero_exit(signum, tmp_path, monkeypatch):
    x, y = data()
    v = make("gan")
    real_step = v.step

    def step(xb, yb, step):
        if step == 1:
            os.kill(os.getpid(), signum)
        return real_step(xb, yb, step)

    monkeypatch.setattr(v, "step", step)
    with pytest.raises(RunStopped, match=rf"gan: stopped by {signal.Signals(signum).name} at step 2 of 10") as err:
        Trainer(v, x, y, config(steps=10, checkpoint_every=100), tmp_path).fit(progress=False)
    assert err.value.exit_code == 128 + signum  # the shell's code: `dvc repro` reports the stage as failed
    assert torch.load(RunDir(tmp_path).checkpoint, weights_only=True)["step"] == 2
    summary = json.loads(RunDir(tmp_path).summary.read_text())
    assert summary["finished"] is False and summary["step"] == 2 and [r["step"] for r in summary["history"]] == [1, 2]
    assert not RunDir(tmp_path).generator.exists()
    resumed = Trainer(make("gan"), x, y, config(steps=10, checkpoint_every=100), tmp_path).fit(progress=False)
    assert resumed["finished"] is True and resumed["step"] == 10


def test_checkpoint_of_another_variant_is_refused_and_kept(tmp_path):
    x, y = data()
    Trainer(make("gan"), x, y, config(steps=1), tmp_path).fit(progress=False)
    before = RunDir(tmp_path).checkpoint.read_bytes()
    with pytest.raises(RunConflict, match="holds a 'gan' run, not 'dcgan'.*pass --restart"):
        Trainer(make("dcgan"), x, y, config(steps=1), tmp_path).fit(progress=False)
    assert RunDir(tmp_path).checkpoint.read_bytes() == before


def test_a_run_killed_after_a_checkpoint_resumes_with_its_whole_history(tmp_path, monkeypatch):
    """SIGKILL cannot be caught: simulated by an exception that ends the process's work at step 3, after the
    step-2 checkpoint and after dvclive logged step 3. The resumed run keeps steps 1-2's history and seconds,
    and dvclive's series hold each step once."""
    from ganlab.train import trainer

    clock = iter(range(0, 10_000, 5))
    monkeypatch.setattr(trainer, "time", types.SimpleNamespace(perf_counter=lambda: float(next(clock))))
    x, y = data()
    v = make("gan")
    real_step = v.step

    class Killed(BaseException):
        pass

    def step(xb, yb, step):
        if step == 3:
            raise Killed
        return real_step(xb, yb, step)

    monkeypatch.setattr(v, "step", step)
    with pytest.raises(Killed):
        Trainer(v, x, y, config(steps=4), tmp_path).fit(progress=False)
    part = json.loads(RunDir(tmp_path).summary.read_text())
    assert part["step"] == 2 and part["seconds"] > 0 and [r["step"] for r in part["history"]] == [1, 2]
    done = Trainer(make("gan"), x, y, config(steps=4), tmp_path).fit(progress=False)
    summary = json.loads(RunDir(tmp_path).summary.read_text())
    assert [r["step"] for r in summary["history"]] == [1, 2, 3, 4]
    assert done["seconds"] > part["seconds"]
    rows = (RunDir(tmp_path).dvclive / "plots" / "metrics" / "train" / "loss_d.tsv").read_text().splitlines()
    assert [r.split("\t")[0] for r in rows] == ["step", "1", "2", "3", "4"]


def test_losses_are_logged_with_dvclive(tmp_path):
    import json

    x, y = data()
    Trainer(make("gan"), x, y, config(), tmp_path).fit(progress=False)
    metrics = json.loads((tmp_path / "dvclive" / "metrics.json").read_text())
    assert {"loss_d", "loss_g", "images_per_s"} <= set(metrics["train"])
    rows = (tmp_path / "dvclive" / "plots" / "metrics" / "train" / "loss_d.tsv").read_text().splitlines()
    assert rows[0].split("\t")[:2] == ["step", "loss_d"] and len(rows) == 1 + 4  # a row per logged step


def test_a_trainer_ends_when_another_in_the_project_removed_dvclives_step_signal(tmp_path, monkeypatch):
    # In a DVC project every trainer's dvclive marks its steps in one file, and its end() removes the file after
    # checking it is there: a study's seeds, trained side by side, race in between (a CI run failed on it).
    project = tmp_path / "project"
    (project / ".dvc").mkdir(parents=True)
    monkeypatch.setenv("DVC_ROOT", str(project))
    signal_file = project / ".dvc" / "tmp" / "exps" / "run" / "DVCLIVE_STEP_COMPLETED"
    real_exists = os.path.exists

    def exists_then_removed_by_the_other(path):
        found = real_exists(path)
        if found and Path(path) == signal_file:
            os.remove(path)  # the other trainer's end(), between this check and the removal that follows it
        return found

    monkeypatch.setattr(os.path, "exists", exists_then_removed_by_the_other)
    x, y = data()
    summary = Trainer(make("gan"), x, y, config(), project / "run").fit(progress=False)
    assert summary["step"] == 4 and (project / "run" / "generator.pt").is_file()
    assert not signal_file.exists()


# --------------------------------------------------------------------------- resume safety and precision


def test_a_run_with_other_settings_is_refused_and_kept_unless_restarted(tmp_path):
    x, y = data()
    Trainer(make("dcgan"), x, y, config(steps=2), tmp_path).fit(progress=False)
    kept = {p.name: p.read_bytes() for p in (RunDir(tmp_path).checkpoint, RunDir(tmp_path).generator)}
    with pytest.raises(RunConflict, match=r"written with other settings \(train\.seed 0 -> 5\); the run was kept"):
        Trainer(make("dcgan"), x, y, config(steps=2, seed=5), tmp_path).fit(progress=False)
    assert {p.name: p.read_bytes() for p in (RunDir(tmp_path).checkpoint, RunDir(tmp_path).generator)} == kept
    fresh = Trainer(make("dcgan"), x, y, config(steps=2, seed=5), tmp_path / "fresh")
    fresh.fit(progress=False)
    other = Trainer(make("dcgan"), x, y, config(steps=2, seed=5), tmp_path)
    other.fit(progress=False, restart="stale")
    a, b = weights(fresh.variant), weights(other.variant)
    assert all(torch.equal(a[k], b[k]) for k in a)  # as if the old checkpoint had never been there


def test_fewer_steps_than_done_are_refused_and_the_run_kept(tmp_path):
    x, y = data()
    Trainer(make("gan"), x, y, config(steps=4), tmp_path).fit(progress=False)
    kept = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file() and p.name != ".lock"}
    with pytest.raises(RunConflict, match=r"is at step 4, past steps = 2; the run was kept"):
        Trainer(make("gan"), x, y, config(steps=2), tmp_path).fit(progress=False)
    assert {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file() and p.name != ".lock"} == kept
    summary = Trainer(make("gan"), x, y, config(steps=2), tmp_path).fit(progress=False, restart="yes")
    assert summary["step"] == 2 and not (RunDir(tmp_path).samples / "step_0000004.png").exists()


def test_restart_yes_starts_over_even_from_a_run_it_could_continue(tmp_path):
    x, y = data()
    fresh = Trainer(make("dcgan"), x, y, config(steps=2), tmp_path / "fresh")
    fresh.fit(progress=False)
    Trainer(make("dcgan"), x, y, config(steps=1), tmp_path / "run").fit(progress=False)
    again = Trainer(make("dcgan"), x, y, config(steps=2), tmp_path / "run")
    assert again.fit(progress=False, restart="yes")["step"] == 2
    a, b = weights(fresh.variant), weights(again.variant)
    assert all(torch.equal(a[k], b[k]) for k in a)  # trained from step 0, not resumed at step 1


def test_a_folder_of_other_files_is_refused_untouched(tmp_path):
    x, y = data()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.txt").write_text("x")
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "holiday.png").write_text("y")
    with pytest.raises(RunConflict, match=r"holds files a run does not write \(docs\)"):
        Trainer(make("gan"), x, y, config(), tmp_path).fit(progress=False)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "docs", "docs/thesis.txt", "samples", "samples/holiday.png"]


def test_a_second_process_training_in_the_folder_is_refused_with_the_holders_pid(tmp_path):
    from ganlab.files import folder_lock

    x, y = data()
    tmp_path.mkdir(exist_ok=True)
    with folder_lock(RunDir(tmp_path).lock, "training gan"):  # as the first process holds it
        (RunDir(tmp_path).lock).write_text("4242\n")  # its pid, as a process that is not this one would write
        with pytest.raises(OutputRefused, match=rf"{tmp_path}: process 4242 is training gan in it"):
            Trainer(make("gan"), x, y, config(), tmp_path).fit(progress=False)
    assert not RunDir(tmp_path).checkpoint.exists()
    assert Trainer(make("gan"), x, y, config(), tmp_path).fit(progress=False)["finished"]  # released: trains


def test_checkpoint_of_other_code_is_not_resumed(tmp_path, monkeypatch):
    from ganlab.train import trainer

    x, y = data()
    Trainer(make("dcgan"), x, y, config(steps=2), tmp_path).fit(progress=False)
    assert Trainer(make("dcgan"), x, y, config(steps=4), tmp_path).load_checkpoint()  # same code: resumes
    monkeypatch.setattr(trainer, "code_fingerprint", lambda cls, src=None: "edited")
    with pytest.raises(RunConflict, match=r"other settings \(the code\)"):
        Trainer(make("dcgan"), x, y, config(steps=4), tmp_path).load_checkpoint()
    assert not Trainer(make("dcgan"), x, y, config(steps=4), tmp_path).load_checkpoint("stale")


def test_code_fingerprint_covers_the_variant_family():
    from ganlab.train.trainer import code_fingerprint

    assert code_fingerprint(registry.get("wgan")) != code_fingerprint(registry.get("wgan_gp"))
    assert code_fingerprint(registry.get("dcgan")) == code_fingerprint(registry.get("dcgan"))


def test_code_fingerprint_follows_the_shared_code_the_variant_imports(tmp_path):
    """An edit to the shared networks (blocks.py) makes a persisted dcgan checkpoint stale, as DVC's code deps
    re-run the stage; an edit to a module dcgan does not import (cyclegan.py) leaves it valid."""
    import shutil

    from ganlab.train.trainer import code_fingerprint

    src = tmp_path / "src"
    shutil.copytree(Path(__file__).resolve().parents[2] / "src" / "ganlab", src / "ganlab",
                    ignore=shutil.ignore_patterns("__pycache__"))
    dcgan = registry.get("dcgan")
    before = code_fingerprint(dcgan, src)
    assert before == code_fingerprint(dcgan)  # the copy is the package's code
    with (src / "ganlab" / "models" / "cyclegan.py").open("a") as fh:
        fh.write("\n# an edit elsewhere\n")
    assert code_fingerprint(dcgan, src) == before
    with (src / "ganlab" / "models" / "blocks.py").open("a") as fh:
        fh.write("\n# an edit to the shared networks\n")
    assert code_fingerprint(dcgan, src) != before


def test_unreadable_checkpoint_is_named_and_kept(tmp_path):
    x, y = data()
    RunDir(tmp_path).checkpoint.write_bytes(b"not a checkpoint")
    with pytest.raises(GanlabError, match=r"(?s)checkpoint\.pt: not a readable checkpoint.*the run was kept"):
        Trainer(make("gan"), x, y, config(), tmp_path).fit(progress=False)
    assert RunDir(tmp_path).checkpoint.read_bytes() == b"not a checkpoint"


@pytest.mark.parametrize("name", ["dcgan", "wgan_gp"])
def test_bf16_autocast_runs_the_update_in_bfloat16(name, tmp_path, monkeypatch):
    x, y = data(name=name)
    v = make(name)
    seen = []
    d = v.nets["discriminator"]
    d.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    summary = Trainer(v, x, y, config(steps=2, amp="bf16"), tmp_path).fit(progress=False)
    assert summary["finished"] and all(math.isfinite(summary[k]) for k in ("loss_d", "loss_g"))
    assert torch.bfloat16 in seen
    assert all(p.dtype == torch.float32 for p in v.nets.parameters())  # weights stay float32


# --------------------------------------------------------------------------- memory layout


def test_channels_last_trains_the_same_model_in_nhwc_layout(tmp_path):
    """The default NHWC layout (x1.1-1.2 on CPU, benchmarks/trainer_speed.py) changes memory order only:
    conv weights and image batches are channels-last, and the weights end where NCHW training ends."""
    cls = registry.get("dcgan")
    g = torch.Generator().manual_seed(5)
    x = torch.rand(16, 3, 32, 32, generator=g) * 2 - 1
    runs = {}
    for channels_last in (False, True):
        torch.manual_seed(0)
        v = cls(cls.Config(width=8), DataSpec((3, 32, 32), 0), torch.device("cpu"))
        t = Trainer(v, x, None, config(channels_last=channels_last), tmp_path / str(channels_last))
        convs = [p for p in v.nets.parameters() if p.dim() == 4 and p.shape[1] > 1]
        assert convs and all(p.is_contiguous(memory_format=torch.channels_last) == channels_last for p in convs)
        assert t.batch(0)[0].is_contiguous(memory_format=torch.channels_last) == channels_last
        t.fit(progress=False)
        runs[channels_last] = weights(v)
    for k in runs[False]:
        assert torch.allclose(runs[False][k], runs[True][k], atol=1e-4), k


# --------------------------------------------------------------------------- scores on the test split


class ScoredDCGAN(registry.get("dcgan")):
    """A DCGAN that scores itself, states its protocol and draws a test figure, counting its calls."""

    calls = 0

    def evaluate(self, images, labels):
        type(self).calls += 1
        return {"mean_pixel": images.mean().item()}

    def protocol(self):
        return {"split": "test", "images": 6}

    def test_figures(self, images, labels):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(2, 2))
        fig.add_subplot().hist(images.flatten().numpy())
        return {"pixels": fig}


def test_test_scores_are_written_with_their_protocol_and_figures(tmp_path):
    import json

    x, y = data()
    test = data(6)
    v = ScoredDCGAN(ScoredDCGAN.Config(width=8), DataSpec(SHAPE, 10), torch.device("cpu"))
    summary = Trainer(v, x, y, config(), tmp_path, test=test).fit(progress=False)
    assert summary["test"] == {"mean_pixel": pytest.approx(test[0].mean().item())}
    saved = json.loads((tmp_path / "train_summary.json").read_text())
    assert saved["test_protocol"] == {"split": "test", "images": 6}
    assert (tmp_path / "samples" / "pixels.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_resumed_at_its_end_keeps_its_scores_without_scoring_again(tmp_path):
    x, y = data()
    test = data(6)

    def run():
        v = ScoredDCGAN(ScoredDCGAN.Config(width=8), DataSpec(SHAPE, 10), torch.device("cpu"))
        return Trainer(v, x, y, config(), tmp_path, test=test).fit(progress=False)

    ScoredDCGAN.calls = 0
    first = run()
    again = run()  # DVC re-runs a stage whose dependencies changed but whose code did not
    assert ScoredDCGAN.calls == 1
    assert again["test"] == first["test"] and again["test_protocol"] == first["test_protocol"]


def test_keep_generators_writes_the_generator_at_each_checkpoint(tmp_path):
    from ganlab.runs import load_generator

    x, y = data()
    fit = Trainer(make("dcgan"), x, y, config(steps=5, checkpoint_every=2, keep_generators=True), tmp_path)
    fit.fit(progress=False)
    run = RunDir(tmp_path)
    kept = run.kept_generators()
    assert list(kept) == [2, 4, 5] and kept[5] == run.generator_at(5)
    z = torch.randn(3, fit.variant.config.z_dim)
    with torch.no_grad():
        last, final = load_generator(kept[5]), load_generator(run.generator)
        assert torch.equal(last.sample(z), final.sample(z))  # the last kept one is generator.pt
        assert not torch.equal(load_generator(kept[2]).sample(z), final.sample(z))  # an earlier one is not
    assert run.foreign() == []
    # off (the default): only generator.pt
    Trainer(make("dcgan"), x, y, config(steps=5, checkpoint_every=2), tmp_path / "plain").fit(progress=False)
    assert RunDir(tmp_path / "plain").kept_generators() == {} and not (tmp_path / "plain" / "generators").exists()
    with torch.no_grad():  # keeping them changes nothing of the training
        assert torch.equal(load_generator(RunDir(tmp_path / "plain").generator).sample(z), final.sample(z))
