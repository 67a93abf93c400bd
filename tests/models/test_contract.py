"""The contract every registered variant keeps with the trainer, and the trainer's own guarantees."""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import types

import pytest
import torch

from ganlab.errors import GanlabError
from ganlab.models import registry
from ganlab.models.base import DataSpec, Variant
from ganlab.runs import RunDir
from ganlab.train.trainer import TrainConfig, Trainer, TrainingDiverged

TINY = {  # small enough for CPU tests; one line per registered variant
    "gan": {"hidden": 32},
    "cgan": {"hidden": 32},
    "dcgan": {"width": 8},
    "lsgan": {"width": 8},
    "sngan": {"width": 8},
    "wgan": {"width": 8, "n_critic": 2, "warmup_critic": 3, "warmup_steps": 1, "refresh_every": 2},
    "wgan_gp": {"width": 8, "n_critic": 2},
    "acgan": {"width": 8},
    "infogan": {"width": 8},
    "progan": {"width": 8, "z_dim": 16, "phase_steps": 1},  # 4 steps: 7x7, fade to 14, 14x14, fade to 28
    "cyclegan": {"width": 4, "n_blocks": 1, "history": 3, "pool_size": 6, "lambda_identity": 0.5},
    "discogan": {"width": 4, "pool_size": 6},
    "sgan": {"width": 8, "labels_per_class": 1, "labelled_batch": 4},
    "ebgan": {"width": 8},
    "began": {"width": 8, "hidden": 8, "z_dim": 8},
    "sagan": {"width": 8, "z_dim": 16},
    "bigan": {"width": 8, "z_dim": 8, "joint": 16},
    "lapgan": {"width": 8, "hidden": 16, "z_dim": 8},
    "vae": {"z_dim": 4, "hidden": 16, "nll_samples": 8},
    "aae": {"hidden": 16},
    "vqvae": {"width": 8, "code_dim": 4, "codebook_size": 16, "res_blocks": 1, "prior_width": 8, "prior_layers": 1,
              "vq_steps": 2},  # steps 0-1 the auto-encoder, 2-3 the prior: resume crosses the switch
    "cvae_gan": {"width": 8, "z_dim": 8},
    "seq_mle": {"embed": 4, "hidden": 4},
    # step 0 MLE, step 1 the discriminator, steps 2-3 adversarial: resume crosses both switches
    "seqgan": {"embed": 4, "hidden": 4, "pretrain_steps": 1, "d_pretrain_steps": 1, "d_steps": 2, "rollouts": 2,
               "d_embed": 4, "d_filter_sizes": (1, 2, 3), "d_filter_counts": (3, 3, 2)},
    "maligan": {"embed": 4, "hidden": 4, "pretrain_steps": 1, "d_pretrain_steps": 1, "d_steps": 2,
                "d_embed": 4, "d_filter_sizes": (1, 2, 3), "d_filter_counts": (3, 3, 2)},
}
CLASSES = {  # label values of the contract's data where a variant reads labels as something else
    "cyclegan": 2,  # the two domains, A = 0 and B = 1
    "discogan": 2,  # likewise
    "sgan": 2,  # two classes, so that the contract's 8-image batches hold both
}
LATER_ROLES = {  # roles (networks, optimizers) that a variant trains only in a later stage of its run, not at step 0
    "vqvae": {"prior"},  # from model.vq_steps on; tests/test_vqvae.py checks that stage
    # MLE pre-training first; tests/test_sequence.py checks the later phases
    "seqgan": {"discriminator", "policy"},
    "maligan": {"discriminator", "policy"},
}
SHAPE = (1, 28, 28)
LENGTH, VOCAB = 6, 12  # the token sequences of the sequence variants


def sequences(name: str) -> bool:
    return registry.get(name).data_kind == "sequences"


def spec(name: str) -> DataSpec:
    return DataSpec((LENGTH,), 0, vocab=VOCAB) if sequences(name) else DataSpec(SHAPE, CLASSES.get(name, 10))


def make(name: str, seed: int = 0):
    cls = registry.get(name)
    torch.manual_seed(seed)  # weight initialisation draws from the global generator
    return cls(cls.Config(**TINY.get(name, {})), spec(name), torch.device("cpu"))


def data(n: int = 24, name: str = "") -> tuple[torch.Tensor, torch.Tensor | None]:
    g = torch.Generator().manual_seed(123)
    if name and sequences(name):
        return torch.randint(0, VOCAB, (n, LENGTH), generator=g), None
    return torch.rand(n, *SHAPE, generator=g) * 2 - 1, torch.randint(0, CLASSES.get(name, 10), (n,), generator=g)


def weights(variant) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in variant.nets.state_dict().items()}


def config(**kw) -> TrainConfig:
    return TrainConfig(**{"steps": 4, "batch_size": 8, "checkpoint_every": 2, "sample_every": 2, "log_every": 1,
                          "n_samples": 4, **kw})


def test_every_registered_variant_is_in_the_contract_tests():
    assert set(registry.names()) == set(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_what_a_variant_says_of_itself_agrees_with_its_code(name):
    cls = registry.get(name)
    # the trainer hands over the test split by this flag alone: a variant that scores or draws from it must say so
    overrides = cls.evaluate is not Variant.evaluate or cls.test_figures is not Variant.test_figures
    assert cls.reads_test_split == overrides, f"{name} overrides evaluate/test_figures: set reads_test_split"
    assert cls.has_latent_walk == (cls.no_latent_walk_reason == ""), f"{name}: say why there is no latent walk"
    # phases: only the last may take the rest of the steps, and a run's planned phases add up to its steps
    v = make(name)
    phases = cls.phases(v.config, v.data)
    assert phases and all(p.steps is not None and p.steps >= 0 for p in phases[:-1]), phases
    plan = v.planned_phases(4)
    assert [p["name"] for p in plan] == [p.name for p in phases]
    if phases[-1].steps is None:
        assert sum(p["steps"] for p in plan) == 4
    # what the params check knows before the data are read is never more than the data's phases fix
    fixed = sum(p.steps for p in cls.phases(v.config) if p.steps is not None)
    assert fixed <= sum(p.steps for p in phases if p.steps is not None)


def test_phases_are_the_ones_the_variants_step_through():
    progan = make("progan")  # 28 px: 7x7, fade to 14, 14x14, fade to 28, then 28x28 to the end
    plan = progan.planned_phases(7)
    assert [(p["name"], p["steps"]) for p in plan] == [("7px", 1), ("14px fade-in", 1), ("14px", 1),
                                                       ("28px fade-in", 1), ("28px", 3)]
    assert [p["name"] for p in plan for _ in range(p["steps"])] == [plan[progan.phase(s)]["name"] for s in range(7)]
    seqgan = make("seqgan")
    plan = seqgan.planned_phases(5)
    assert [p["name"] for p in plan for _ in range(p["steps"])] == [seqgan.phase(s) for s in range(5)]


def test_registry_lists_variants_with_descriptions():
    assert {"gan", "dcgan"} <= set(registry.names())
    assert "Radford" in registry.describe("dcgan")
    with pytest.raises(GanlabError, match="unknown variant 'dcgna'; registered: .*dcgan"):
        registry.get("dcgna")


def test_registry_refuses_duplicates_and_non_variants():
    with pytest.raises(ValueError, match="already registered"):
        registry.register("dcgan")(type("Other", (registry.get("gan"),), {"__doc__": "x"}))
    with pytest.raises(TypeError, match="needs a Variant subclass"):
        registry.register("thing")(object)


@pytest.mark.parametrize("name", sorted(TINY))
def test_one_step_changes_weights_with_finite_losses(name):
    v = make(name)
    before = weights(v)
    x, y = data(8, name)
    v.prepare(x, y, 0)  # as the trainer does before the first step
    losses = v.step(x, y, 0)
    assert losses and all(math.isfinite(val) for val in losses.values())
    after = weights(v)
    for role, optimizer in v.optimizers.items():  # every optimizer stepped (clipping alone also changes weights)
        if role in LATER_ROLES.get(name, set()):
            continue
        stepped = [p for group in optimizer.param_groups for p in group["params"] if optimizer.state.get(p)]
        assert stepped, f"{name}: the {role} optimizer never stepped"
    for role in ({*v.generator_roles, "discriminator"} & set(v.nets)) - LATER_ROLES.get(name, set()):
        changed = [k for k in before if k.startswith(role) and before[k].is_floating_point()
                   and not torch.equal(before[k], after[k])]
        assert changed, f"{name}: no {role} weight changed"


@pytest.mark.parametrize("name", sorted(TINY))
def test_samples_have_the_data_shape_and_range(name):
    v = make(name)
    with torch.no_grad():
        z, y = v.grid_inputs(5, torch.Generator().manual_seed(0))
        for labels in (y, None):
            s = v.sample(z, labels)
            if sequences(name):
                assert s.shape == (5, LENGTH) and s.dtype == torch.long
                assert s.min() >= 0 and s.max() < VOCAB
            else:
                assert s.shape == (5, *SHAPE)
                assert s.min() >= -1 and s.max() <= 1


@pytest.mark.parametrize("name", sorted(TINY))
def test_checkpoint_round_trip(name, tmp_path):
    x, y = data(name=name)
    t = Trainer(make(name), x, y, config(steps=2), tmp_path)
    t.fit(progress=False)
    other = Trainer(make(name, seed=99), x, y, config(steps=2), tmp_path)
    assert other.load_checkpoint() and other.step == 2
    a, b = weights(t.variant), weights(other.variant)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", sorted(TINY))
def test_resume_ends_with_the_weights_of_an_uninterrupted_run(name, tmp_path):
    x, y = data(name=name)
    straight = Trainer(make(name), x, y, config(), tmp_path / "a")
    straight.fit(progress=False)
    first = Trainer(make(name), x, y, config(steps=2), tmp_path / "b")
    first.fit(progress=False)
    second = Trainer(make(name), x, y, config(), tmp_path / "b")
    second.fit(resume=True, progress=False)
    a, b = weights(straight.variant), weights(second.variant)
    assert all(torch.equal(a[k], b[k]) for k in a), f"{name}: resumed weights differ"
    assert (tmp_path / "b" / "samples" / ("step_0000004.txt" if sequences(name) else "step_0000004.png")).exists()
    import json

    def logged(run: str) -> list[dict]:
        return [{k: v for k, v in row.items() if k != "images_per_s"}
                for row in json.loads((tmp_path / run / "train_summary.json").read_text())["history"]]

    assert logged("a") == logged("b")  # the resumed run's history carries on from the first part


def test_training_seconds_add_up_over_a_resume(tmp_path, monkeypatch):
    import json

    from ganlab.train import trainer

    clock = iter(range(0, 10_000, 5))  # every perf_counter() call of the trainer advances 5 s
    monkeypatch.setattr(trainer, "time", types.SimpleNamespace(perf_counter=lambda: float(next(clock))))
    x, y = data()
    first = Trainer(make("gan"), x, y, config(steps=2), tmp_path).fit(progress=False)
    second = Trainer(make("gan"), x, y, config(), tmp_path).fit(resume=True, progress=False)
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


def test_sigint_writes_a_checkpoint_and_stops_cleanly(tmp_path, monkeypatch):
    x, y = data()
    v = make("gan")
    real_step = v.step

    def step(xb, yb, step):
        if step == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(xb, yb, step)

    monkeypatch.setattr(v, "step", step)
    summary = Trainer(v, x, y, config(steps=10, checkpoint_every=100), tmp_path).fit(progress=False)
    assert summary["finished"] is False and summary["step"] == 2
    assert torch.load(RunDir(tmp_path).checkpoint, weights_only=True)["step"] == 2


def test_checkpoint_of_another_variant_is_refused(tmp_path):
    x, y = data()
    Trainer(make("gan"), x, y, config(steps=1), tmp_path).fit(progress=False)
    with pytest.raises(GanlabError, match="holds a 'gan' checkpoint, not 'dcgan'"):
        Trainer(make("dcgan"), x, y, config(steps=1), tmp_path).load_checkpoint()


def test_dcgan_sizes():
    for size, ch in ((28, 1), (32, 3), (64, 3)):
        cls = registry.get("dcgan")
        v = cls(dataclasses.replace(cls.Config(), width=8), DataSpec((ch, size, size), 0), torch.device("cpu"))
        with torch.no_grad():
            assert v.sample(v.noise(2)).shape == (2, ch, size, size)
            assert v.nets["discriminator"](torch.zeros(2, ch, size, size)).shape == (2, 1)


def test_losses_are_logged_with_dvclive(tmp_path):
    import json

    x, y = data()
    Trainer(make("gan"), x, y, config(), tmp_path).fit(progress=False)
    metrics = json.loads((tmp_path / "dvclive" / "metrics.json").read_text())
    assert {"loss_d", "loss_g", "images_per_s"} <= set(metrics["train"])
    rows = (tmp_path / "dvclive" / "plots" / "metrics" / "train" / "loss_d.tsv").read_text().splitlines()
    assert rows[0].split("\t")[:2] == ["step", "loss_d"] and len(rows) == 1 + 4  # a row per logged step


# --------------------------------------------------------------------------- each paper's mechanism


def test_wgan_clips_critic_weights_after_every_step():
    v = make("wgan")
    x, y = data(16)
    v.step(x, y, 0)
    clip = v.config.clip
    assert all(p.abs().max() <= clip + 1e-7 for p in v.nets["discriminator"].parameters())
    assert isinstance(v.optimizers["discriminator"], torch.optim.RMSprop)


def test_wgan_gp_penalty_and_critic_without_batch_norm():
    from ganlab.models.losses import gradient_penalty

    v = make("wgan_gp")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in v.nets["discriminator"].modules())
    real, fake = torch.randn(6, 4), torch.randn(6, 4)
    for scale, want in ((1.0, 0.0), (2.0, 1.0), (3.0, 4.0)):  # a linear critic's gradient is its weight
        w = torch.tensor([[0.6, 0.8, 0.0, 0.0]]) * scale
        critic = torch.nn.Linear(4, 1, bias=False)
        critic.weight.data.copy_(w)
        assert gradient_penalty(critic, real, fake).item() == pytest.approx(want, abs=1e-5)
    assert v.config.gp_weight == 10 and v.optimizers["discriminator"].defaults["betas"] == (0.0, 0.9)


def test_sngan_discriminator_layers_have_unit_spectral_norm():
    v = make("sngan")
    x, _ = data(8)
    for _ in range(20):  # power iterations run on every forward pass in training mode
        v.nets["discriminator"](x)
    for m in v.nets["discriminator"].modules():
        if isinstance(m, torch.nn.Conv2d):
            sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
            assert sigma.item() == pytest.approx(1.0, abs=0.1)


def test_lsgan_losses_are_least_squares():
    v = make("lsgan")
    ones, zeros = torch.ones(4, 1), torch.zeros(4, 1)
    assert v.d_loss(ones, zeros).item() == 0.0  # a perfect discriminator
    assert v.d_loss(zeros, ones).item() == pytest.approx(1.0)
    assert v.g_loss(zeros).item() == pytest.approx(0.5)


# --------------------------------------------------------------------------- resume safety, export, precision


def test_resume_with_other_settings_starts_over(tmp_path, caplog):
    x, y = data()
    Trainer(make("dcgan"), x, y, config(steps=2), tmp_path).fit(progress=False)
    fresh = Trainer(make("dcgan"), x, y, config(steps=2, seed=5), tmp_path / "fresh")
    fresh.fit(progress=False)
    other = Trainer(make("dcgan"), x, y, config(steps=2, seed=5), tmp_path)  # same folder, another seed
    assert not other.load_checkpoint()
    assert "written with other settings" in caplog.text
    other.fit(resume=True, progress=False)
    a, b = weights(fresh.variant), weights(other.variant)
    assert all(torch.equal(a[k], b[k]) for k in a)  # as if the old checkpoint had never been there


def test_checkpoint_of_other_code_is_not_resumed(tmp_path, monkeypatch):
    from ganlab.train import trainer

    x, y = data()
    Trainer(make("dcgan"), x, y, config(steps=2), tmp_path).fit(progress=False)
    assert Trainer(make("dcgan"), x, y, config(steps=4), tmp_path).load_checkpoint()  # same code: resumes
    monkeypatch.setattr(trainer, "code_fingerprint", lambda cls: "edited")
    assert not Trainer(make("dcgan"), x, y, config(steps=4), tmp_path).load_checkpoint()


def test_code_fingerprint_covers_the_variant_family():
    from ganlab.train.trainer import code_fingerprint

    assert code_fingerprint(registry.get("wgan")) != code_fingerprint(registry.get("wgan_gp"))
    assert code_fingerprint(registry.get("dcgan")) == code_fingerprint(registry.get("dcgan"))


def test_unreadable_checkpoint_is_named(tmp_path):
    x, y = data()
    RunDir(tmp_path).checkpoint.write_bytes(b"not a checkpoint")
    with pytest.raises(GanlabError, match=r"checkpoint\.pt: not a readable checkpoint"):
        Trainer(make("gan"), x, y, config(), tmp_path).fit(resume=True, progress=False)


@pytest.mark.parametrize("name", ["dcgan", "cgan", "infogan"])
def test_exported_generator_reproduces_the_trained_samples(name, tmp_path):
    from ganlab.runs import load_generator

    x, y = data(name=name)
    t = Trainer(make(name), x, y, config(steps=2), tmp_path)
    t.fit(progress=False)
    loaded = load_generator(RunDir(tmp_path).generator)
    assert type(loaded) is type(t.variant) and loaded.config == t.variant.config
    state = torch.load(RunDir(tmp_path).generator, weights_only=True)
    assert set(state["roles"]) == {"generator"}  # no discriminator, no optimizer state
    t.variant.nets.eval()
    loaded.nets.eval()
    z, labels = t.variant.grid_inputs(4, torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(t.variant.sample(z, labels), loaded.sample(z, labels))


def test_missing_generator_file_is_named(tmp_path):
    from ganlab.runs import load_generator

    with pytest.raises(GanlabError, match="no such generator file"):
        load_generator(tmp_path / "generator.pt")


def test_amp_auto_is_float32_on_cpu_and_bf16_autocast_trains():
    from ganlab.device import autocast_dtype

    assert autocast_dtype("auto", torch.device("cpu")) is None
    assert autocast_dtype("off", torch.device("cuda")) is None
    assert autocast_dtype("bf16", torch.device("cpu")) is torch.bfloat16


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


def test_batch_must_split_evenly_over_processes(monkeypatch):
    from ganlab.train import distributed

    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    x, y = data()
    with pytest.raises(GanlabError, match="batch_size = 8 is not divisible by the 3 processes"):
        Trainer(make("gan"), x, y, config(), "unused")


# --------------------------------------------------------------------------- torchrun


def test_torchrun_two_processes_train_identical_replicas(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    worker = Path(__file__).parents[1] / "train" / "dist_worker.py"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(worker), str(tmp_path)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert r0["world"] == r1["world"] == 2 and r0["backend"] == "gloo"
    assert r0["shard"] != r1["shard"]  # each process saw its own half of the batch ...
    for k in r0["params"]:  # ... and gradient averaging kept every weight identical
        assert torch.equal(r0["params"][k], r1["params"][k]), k
    assert any(not torch.equal(r0["params"][k], r0["initial"][k]) for k in r0["params"])
    saved = torch.load(RunDir(tmp_path / "run").checkpoint, weights_only=True)
    assert saved["step"] == 3 and len(saved["rng"]) == 2  # one checkpoint, with every process's RNG state
    assert (tmp_path / "run" / "generator.pt").exists() and (tmp_path / "run" / "samples").is_dir()


def test_wgan_critic_warmup_and_the_data_stream_position_agree():
    cls = registry.get("wgan")
    assert {cls(cls.Config(width=4), DataSpec(SHAPE, 0), torch.device("cpu")).real_batches_per_step(s)
            for s in range(600)} == {5}  # the default: Algorithm 1
    v = cls(cls.Config(width=4, warmup_critic=100), DataSpec(SHAPE, 0), torch.device("cpu"))
    counts = [v.real_batches_per_step(s) for s in range(1100)]
    assert counts[:25] == [100] * 25 and counts[25:30] == [5] * 5  # the authors' schedule
    assert counts[500] == counts[1000] == 100 and counts[501] == 5
    for s in (0, 1, 24, 25, 26, 499, 500, 501, 1000, 1099):
        assert v.batches_before(s) == sum(counts[:s]), s
    gp = registry.get("wgan_gp")
    assert {gp(gp.Config(width=4), DataSpec(SHAPE, 0), torch.device("cpu")).real_batches_per_step(s)
            for s in range(600)} == {5}  # WGAN-GP: Algorithm 1, no warm-up


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
        return Trainer(v, x, y, config(), tmp_path, test=test).fit(resume=True, progress=False)

    ScoredDCGAN.calls = 0
    first = run()
    again = run()  # DVC re-runs a stage whose dependencies changed but whose code did not
    assert ScoredDCGAN.calls == 1
    assert again["test"] == first["test"] and again["test_protocol"] == first["test_protocol"]
