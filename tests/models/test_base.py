"""What the Variant base gives every variant: the sample grids of conditional variants, and updates that
compute the gradients of the role they update and no others."""

from __future__ import annotations

import pytest
import torch
from tiny_variants import TINY, build, data
from tiny_variants import build_labelled as make
from tiny_variants import make as make_tiny

from ganlab.models.base import Variant


def test_conditional_grids_put_one_class_per_column():
    v = make("acgan", width=8)
    _, y = v.grid_inputs(100, torch.Generator().manual_seed(0))
    assert y.view(10, 10).tolist() == [list(range(10))] * 10


def test_the_generator_update_computes_no_discriminator_gradient():
    # the generator's loss runs through D: a plain backward would compute D's weight gradients there too,
    # a pass over D's layers that D's next update throws away
    v = build("dcgan", width=8)
    fake = v.sample(v.noise(4))
    v.update("generator", v.g_loss(v.d_logits(fake)))
    assert all(p.grad is None for p in v.nets["discriminator"].parameters())
    assert all(p.grad is not None for p in v.nets["generator"].parameters())


def full_backward_update(self: Variant, role: str, loss: torch.Tensor, max_grad_norm: float = 0.0) -> None:
    """Variant.update as it was: a backward into every parameter the loss reaches, whatever its role."""
    optimizer = self.optimizers[role]
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], max_grad_norm)
    optimizer.step()


@pytest.mark.parametrize("name", sorted(TINY))
def test_updates_train_as_a_full_backward_does_bit_for_bit(name, monkeypatch):
    # only the work changes: three steps give the very weights and optimizer moments of the full backward
    batches = [make_tiny(name).real_batches_per_step(s) for s in range(3)]
    x, y = data(8 * max(batches), name)
    runs = []
    for update in (Variant.update, full_backward_update):
        monkeypatch.setattr(Variant, "update", update)
        v = make_tiny(name)
        v.prepare(x, y, 0)
        torch.manual_seed(1)
        for s, n in enumerate(batches):
            v.step(x[: 8 * n], y[: 8 * n] if y is not None else None, s)
        runs.append(v.state_dict())
    new, old = runs
    assert new["nets"].keys() == old["nets"].keys()
    assert all(torch.equal(new["nets"][k], old["nets"][k]) for k in new["nets"])
    for role in new["optimizers"]:
        moments_new, moments_old = new["optimizers"][role]["state"], old["optimizers"][role]["state"]
        assert moments_new.keys() == moments_old.keys(), role
        for i in moments_new:
            assert all(torch.equal(torch.as_tensor(moments_new[i][k]), torch.as_tensor(moments_old[i][k]))
                       for k in moments_new[i]), (role, i)
