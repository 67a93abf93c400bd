"""The two layers of Salimans et al. (2016) in blocks.py, on batches whose answer is known: minibatch
discrimination (section 3.2) and virtual batch normalisation (section 3.5)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganlab.models.blocks import MinibatchDiscrimination, ReferenceBatch, VirtualBatchNorm


def identity_kernels(in_features: int) -> MinibatchDiscrimination:
    """One kernel of size in_features with T = I: M_i is the features themselves, the distance their L1 distance."""
    layer = MinibatchDiscrimination(in_features, kernels=1, kernel_dim=in_features)
    with torch.no_grad():
        layer.T.copy_(torch.eye(in_features))
    return layer


def test_minibatch_discrimination_counts_the_near_copies_of_each_sample():
    f = torch.tensor([[0.0, 0.0], [0.0, 0.0], [100.0, -100.0]])
    out = identity_kernels(2)(f)
    assert out.shape == (3, 3) and torch.equal(out[:, :2], f)  # the features pass through, o is appended
    o = out[:, 2]
    # the two identical samples: exp(0) = 1 from itself and exactly 1 from its copy; the far one adds exp(-200) = 0
    assert o[0].item() == 2.0 and o[1].item() == 2.0
    assert o[2].item() == 1.0  # only itself (the paper's sum over j includes j = i)
    f = torch.tensor([[0.0, 0.0], [0.5, 0.25]])  # L1 distance 0.75: each gets 1 + exp(-0.75)
    assert identity_kernels(2)(f)[:, 2].tolist() == pytest.approx([1 + torch.exp(torch.tensor(-0.75)).item()] * 2)


def test_minibatch_discrimination_is_the_papers_sum_over_the_batch():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(6, kernels=3, kernel_dim=4)
    f = torch.randn(5, 6)
    m = torch.einsum("na,abc->nbc", f, layer.T.detach().view(6, 3, 4))  # M_i = f_i T, T of shape A x B x C
    expected = torch.zeros(5, 3)
    for i in range(5):
        for j in range(5):
            expected[i] += torch.exp(-(m[i] - m[j]).abs().sum(1))  # c_b(x_i, x_j) for each of the B rows
    out = layer(f)
    assert out.shape == (5, 6 + 3)
    assert torch.allclose(out[:, 6:], expected, atol=1e-6)


def vbn_reference_formula(ref: torch.Tensor, x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Each row of x normalised with the mean and variance of the reference batch with x added: R + 1 examples,
    pooled over positions (for feature maps), written out with the sample's statistics in float64."""
    ref, x = ref.double(), x.double()
    out = []
    for row in x:
        pooled = torch.cat([ref, row.unsqueeze(0)])  # (R + 1, C, ...)
        dims = (0, *range(2, pooled.dim()))
        mean = pooled.mean(dims, keepdim=True)
        var = pooled.var(dims, unbiased=False, keepdim=True)
        out.append(((row.unsqueeze(0) - mean) / torch.sqrt(var + eps))[0])
    return torch.stack(out).float()


@pytest.mark.parametrize("shape", [(4,), (3, 5, 5)])
def test_virtual_batch_norm_is_the_formula_and_each_output_depends_only_on_its_example(shape):
    torch.manual_seed(1)
    ref, x = torch.randn(6, *shape) * 2 + 1, torch.randn(5, *shape) * 3 - 2
    vbn = VirtualBatchNorm(shape[0], reference=6)
    out = vbn(torch.cat([ref, x]))
    assert out.shape == (11, *shape)
    # the reference batch is normalised with its own statistics alone: batch norm's training-mode output
    assert torch.allclose(out[:6], nn.functional.batch_norm(ref, None, None, training=True), atol=1e-5)
    assert torch.allclose(out[6:], vbn_reference_formula(ref, x), atol=1e-5)
    # an example's output does not depend on the other examples of its batch
    alone = vbn(torch.cat([ref, x[:1]]))[6:]
    assert torch.allclose(out[6:7], alone, atol=1e-6)
    # ... unlike batch norm's
    bn = nn.BatchNorm1d(shape[0]) if len(shape) == 1 else nn.BatchNorm2d(shape[0])
    assert not torch.allclose(bn(x)[:1], bn(x[:2])[:1], atol=1e-3)


def test_virtual_batch_norm_applies_its_scale_and_shift_per_channel():
    vbn = VirtualBatchNorm(2, reference=3)
    with torch.no_grad():
        vbn.weight.copy_(torch.tensor([2.0, -1.0]))
        vbn.bias.copy_(torch.tensor([0.5, 3.0]))
    h = torch.randn(7, 2, generator=torch.Generator().manual_seed(2))
    plain = VirtualBatchNorm(2, reference=3)(h)
    assert torch.allclose(vbn(h), plain * torch.tensor([2.0, -1.0]) + torch.tensor([0.5, 3.0]), atol=1e-6)


def test_reference_batch_runs_its_codes_ahead_and_returns_the_batchs_outputs_alone():
    codes = torch.randn(4, 3, generator=torch.Generator().manual_seed(3))
    net = nn.Sequential(nn.Linear(3, 5), VirtualBatchNorm(5, reference=4))
    g = ReferenceBatch(net, codes)
    z = torch.randn(2, 3, generator=torch.Generator().manual_seed(4))
    assert torch.equal(g(z), net(torch.cat([codes, z]))[4:])
    assert torch.equal(g.state_dict()["reference"], codes)  # a buffer: checkpoints and generator.pt carry it
    assert torch.allclose(g(z[1:]), g(z)[1:], atol=1e-6)
