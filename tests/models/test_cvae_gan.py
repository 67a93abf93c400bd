"""CVAE-GAN's mechanisms as the paper states them: the asymmetric losses, a classifier trained on
real images only, and the class grid (a row per z, a column per class)."""

from __future__ import annotations

import pytest
import torch

from ganlab.errors import ParamsError
from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.models.cvae_gan import classwise_mean_feature_matching, mean_feature_matching
from ganlab.models.losses import kl_standard_normal as kl_divergence

CONTRACT = {"width": 8, "z_dim": 8}  # the contract test's settings (read by tests/tiny_variants.py)

SHAPE = (1, 28, 28)


def make(seed: int = 0, shape: tuple[int, int, int] = SHAPE, classes: int = 10, **config):
    cls = registry.get("cvae_gan")
    torch.manual_seed(seed)
    return cls(cls.Config(**{"width": 8, "z_dim": 8, **config}), DataSpec(shape, classes), torch.device("cpu"))


def batch(n: int = 8, shape: tuple[int, int, int] = SHAPE, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, *shape, generator=g) * 2 - 1, torch.randint(0, 10, (n,), generator=g)


def weights(v, role: str) -> dict[str, torch.Tensor]:
    return {k: t.clone() for k, t in v.nets[role].state_dict().items()}


def test_grid_keeps_one_z_along_a_row_and_one_class_down_a_column():
    v = make()
    z, labels = v.grid_inputs(100, torch.Generator().manual_seed(0))
    rows, row_labels = z.view(10, 10, -1), labels.view(10, 10)
    assert torch.equal(rows, rows[:, :1].expand_as(rows))  # the same z across each row
    assert all(not torch.equal(rows[i, 0], rows[j, 0]) for i in range(10) for j in range(i))  # a new z per row
    assert (row_labels == torch.arange(10)).all()  # column k is class k
    z, labels = v.grid_inputs(15, torch.Generator().manual_seed(0))  # a last, partial row
    assert z.shape == (15, 8) and labels.tolist() == list(range(10)) + list(range(5))
    assert torch.equal(z[10:], z[10:11].expand(5, -1))


def test_classifier_learns_from_real_images_only():
    """The same step with another generator and encoder leaves C's weights bit for bit the same
    (but not D's: the check could fail)."""
    x, y = batch()
    runs = []
    for shift in (0.0, 0.5):
        v = make()
        with torch.no_grad():
            for role in ("generator", "encoder"):
                for p in v.nets[role].parameters():
                    p.add_(shift)
        torch.manual_seed(3)
        v.step(x, y, 0)
        runs.append(v)
    a, b = (weights(v, "classifier") for v in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    a, b = (weights(v, "discriminator") for v in runs)
    assert not all(torch.equal(a[k], b[k]) for k in a)


def test_mean_feature_matching_is_zero_when_the_means_match():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(6, 5, generator=g)
    assert mean_feature_matching(real, real.flip(0)).item() == pytest.approx(0.0, abs=1e-6)
    assert mean_feature_matching(torch.tensor([[0.0, 0.0], [2.0, 2.0]]), torch.ones(2, 2)).item() == 0.0
    assert mean_feature_matching(torch.tensor([[0.0, 0.0], [2.0, 2.0]]), torch.zeros(3, 2)).item() == 1.0
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    swapped = real[[1, 0, 3, 2, 5, 4]]  # members swapped within each class: every class mean is kept
    assert classwise_mean_feature_matching(real, labels, swapped, labels, 4).item() == pytest.approx(0.0, abs=1e-6)
    # class 0: means 1 vs 0 (1/2 * 1 * 2 features); class 1 only in the real batch: left out
    real2, fake2 = torch.tensor([[1.0, 1.0], [5.0, 5.0]]), torch.zeros(1, 2)
    loss = classwise_mean_feature_matching(real2, torch.tensor([0, 1]), fake2, torch.tensor([0]), 3)
    assert loss.item() == pytest.approx(1.0)


def test_kl_term_is_the_gaussian_kl_to_the_standard_normal():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    want = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1)
    assert torch.allclose(kl_divergence(mu, logvar), want, atol=1e-6)
    assert kl_divergence(torch.zeros(2, 3), torch.zeros(2, 3)).abs().max() == 0


def test_step_logs_every_term_and_trains_all_four_networks():
    v = make()
    before = {role: weights(v, role) for role in v.nets}
    losses = v.step(*batch(), 0)
    assert {"loss_c", "loss_d", "loss_kl", "loss_recon", "loss_gd", "loss_gc"} <= set(losses)
    for role in v.nets:
        after = weights(v, role)
        assert not all(torch.equal(before[role][k], after[k]) for k in after), role


def test_reconstruction_figure_interleaves_real_rows_with_reconstructions_at_28_and_32_px():
    for shape in ((1, 28, 28), (3, 32, 32)):
        v = make(shape=shape)
        v.nets.eval()
        x, y = batch(20, shape)
        with torch.no_grad():
            rows, nrow = v.figures(x, y)["reconstruction"]
            mu, _ = v.encode(x, y)
            recon = v.sample(mu, y)
        assert rows.shape == (40, *shape) and nrow == 10
        assert torch.equal(rows[:10], x[:10]) and torch.equal(rows[10:20], recon[:10])
        assert torch.equal(rows[20:30], x[10:]) and torch.equal(rows[30:], recon[10:])
        v.nets.train()
        assert all(torch.isfinite(torch.tensor(val)) for val in v.step(x[:8], y[:8], 0).values())  # builds and steps


def test_needs_classes():
    with pytest.raises(ParamsError, match="at least 2 classes"):
        make(classes=0)
    with pytest.raises(ValueError, match="labelled"):
        make().step(batch()[0], None, 0)


def test_cvae_gan_scores_reconstructions_and_its_classifier_on_the_test_split():
    v = make()
    g = torch.Generator().manual_seed(5)
    x, y = torch.rand(12, 1, 28, 28, generator=g) * 2 - 1, torch.arange(12) % 10
    with torch.no_grad():
        v.nets.eval()
        scores = v.evaluate(x, y)
        mu, _ = v.encode(x, y)
        expected = (v.sample(mu, y) - x).pow(2).mean().item()
        accuracy = (v.nets["classifier"](x)[0].argmax(1) == y).float().mean().item()
    assert scores["recon_mse"] == pytest.approx(expected, rel=1e-5)
    assert scores["classifier_accuracy"] == pytest.approx(accuracy)
    assert "G(mu(x, c), c)" in v.protocol()["recon_mse"]
