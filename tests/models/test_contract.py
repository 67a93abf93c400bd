"""The contract every registered variant keeps with the trainer: one test run over the whole registry.

Each variant runs with its tiny settings from tests/tiny_variants.py; what is particular to a variant
is tested in tests/models/test_<variant>.py, the trainer's own guarantees in tests/train/test_trainer.py.
"""

from __future__ import annotations

import math

import pytest
import torch
from tiny_variants import LENGTH, SHAPE, TINY, VOCAB, config, data, make, sequences, weights

from ganlab.models import registry
from ganlab.models.base import Variant
from ganlab.runs import RunDir
from ganlab.train.trainer import Trainer

LATER_ROLES = {  # roles (networks, optimizers) that a variant trains only in a later stage of its run, not at step 0
    "vqvae": {"prior"},  # from model.vq_steps on; tests/models/test_vqvae.py checks that stage
    # MLE pre-training first; tests/models/test_seqgan.py checks the later phases
    "seqgan": {"discriminator", "policy"},
    "maligan": {"discriminator", "policy"},
}


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
    second.fit(progress=False)
    a, b = weights(straight.variant), weights(second.variant)
    assert all(torch.equal(a[k], b[k]) for k in a), f"{name}: resumed weights differ"
    assert (tmp_path / "b" / "samples" / ("step_0000004.txt" if sequences(name) else "step_0000004.png")).exists()
    import json

    def logged(run: str) -> list[dict]:
        return [{k: v for k, v in row.items() if k != "images_per_s"}
                for row in json.loads((tmp_path / run / "train_summary.json").read_text())["history"]]

    assert logged("a") == logged("b")  # the resumed run's history carries on from the first part


# --------------------------------------------------------------------------- export


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
