"""VQ-VAE's mechanisms as the paper states them: nearest-code quantisation, straight-through
gradients, the codebook (loss or EMA), the causal prior and inverse-CDF sampling, the two stages."""

from __future__ import annotations

import math

import pytest
import torch

from ganlab.errors import ParamsError
from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.models.vqvae import Codebook, PixelCNNPrior, code_usage, perplexity

# steps 0-1 the auto-encoder, 2-3 the prior: resume crosses the switch
CONTRACT = {"width": 8, "code_dim": 4, "codebook_size": 16, "res_blocks": 1, "prior_width": 8, "prior_layers": 1, "vq_steps": 2}  # the contract test's settings (read by tests/tiny_variants.py)

SHAPE = (1, 28, 28)
TINY = {"width": 8, "code_dim": 4, "codebook_size": 16, "res_blocks": 1, "prior_width": 8, "prior_layers": 1}


def make(seed: int = 0, shape: tuple[int, int, int] = SHAPE, **config):
    cls = registry.get("vqvae")
    torch.manual_seed(seed)
    return cls(cls.Config(**{**TINY, **config}), DataSpec(shape, 10), torch.device("cpu"))


def images(n: int, shape: tuple[int, int, int] = SHAPE, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def weights(v, role: str) -> dict[str, torch.Tensor]:
    return {k: t.clone() for k, t in v.nets[role].state_dict().items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_quantisation_picks_the_nearest_code():
    book = Codebook(6, 3, ema=False, decay=0.99, epsilon=1e-5)
    with torch.no_grad():
        book.codes.copy_(torch.randn(6, 3, generator=torch.Generator().manual_seed(0)))
    z = torch.randn(50, 3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(book.nearest(z), torch.cdist(z, book.codes.detach()).argmin(1))
    assert torch.equal(book.nearest(book.codes.detach()), torch.arange(6))  # every code is its own nearest


def test_straight_through_gradient_reaches_the_encoder(monkeypatch):
    """With beta = 0 the commitment term is gone: the encoder's only gradient is the decoder's,
    copied across the quantisation."""
    v = make(beta=0.0)
    grads = {}

    def backward_only(role, loss):
        loss.backward()
        grads.update({k: p.grad for k, p in v.nets["encoder"].named_parameters()})

    monkeypatch.setattr(v, "update", backward_only)
    v.step(images(4), None, 0)
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads.values())
    # the copied gradient is exactly the decoder input's: d loss / d z_e == d loss / d z_q
    x = images(4)
    rows, index, e = v.quantise(x)
    z_q = rows + (e - rows).detach()
    z_q.retain_grad()
    rows.retain_grad()
    torch.nn.functional.mse_loss(v.decode_codes(z_q.view(*index.shape, -1)), x).backward()
    assert torch.equal(rows.grad, z_q.grad)


def test_codebook_loss_trains_the_codes_without_ema():
    v = make()
    book = v.nets["codebook"]
    assert isinstance(book.codes, torch.nn.Parameter)
    assert any(p is book.codes for g in v.optimizers["vqvae"].param_groups for p in g["params"])


def test_ema_moves_used_codes_to_the_running_mean_of_their_assignments():
    decay = 0.9
    book = Codebook(4, 2, ema=True, decay=decay, epsilon=0.0)
    start = torch.tensor([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0], [9.0, -9.0]])
    book.codes.copy_(start)
    book.ema_sum.copy_(start)
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [4.0, 4.0]])
    index = book.nearest(z)
    assert index.tolist() == [0, 0, 0, 1]
    book.ema_update(z, index)
    # from count 1 and sum = the code: e_k = (g e_k + (1-g) sum z) / (g + (1-g) n_k)
    want0 = (decay * start[0] + (1 - decay) * z[:3].sum(0)) / (decay + (1 - decay) * 3)
    want1 = (decay * start[1] + (1 - decay) * z[3]) / (decay + (1 - decay) * 1)
    assert torch.allclose(book.codes[0], want0) and torch.allclose(book.codes[1], want1)
    assert torch.equal(book.codes[2:], start[2:])  # unused codes stay where they were
    assert (book.codes[0] - z[:3].mean(0)).norm() < (start[0] - z[:3].mean(0)).norm()


def test_ema_codebook_is_a_buffer_outside_the_optimizer_and_moves_toward_its_encoder_outputs():
    v = make(ema=True)
    book = v.nets["codebook"]
    assert not list(book.parameters())
    assert {"codebook.codes", "codebook.ema_count", "codebook.ema_sum"} <= set(v.nets.state_dict())
    x = images(8)
    with torch.no_grad():
        rows, index, _ = v.quantise(x)
    used = index.flatten().unique()
    target = torch.stack([rows[index.flatten() == k].mean(0) for k in used])
    before = book.codes[used].clone()
    v.step(x, None, 0)
    after = book.codes[used]
    assert ((after - target).norm(dim=1) < (before - target).norm(dim=1)).all()


def test_usage_and_perplexity_of_a_hand_made_histogram():
    assert code_usage(torch.tensor([2, 2, 0, 0])) == 0.5
    assert perplexity(torch.tensor([2, 2, 0, 0])) == pytest.approx(2.0)
    assert perplexity(torch.tensor([5, 0, 0, 0])) == pytest.approx(1.0)
    assert perplexity(torch.tensor([3, 3, 3, 3])) == pytest.approx(4.0)
    assert perplexity(torch.tensor([2, 1, 1, 0])) == pytest.approx(2**1.5)  # entropy 1.5 bits
    losses = make().step(images(8), None, 0)
    assert {"loss_recon", "loss_commit", "usage", "perplexity"} <= set(losses)
    assert 0 < losses["usage"] <= 1 and 1 <= losses["perplexity"] <= 16


def test_prior_is_causal_in_raster_order():
    torch.manual_seed(0)
    prior = PixelCNNPrior(8, 16, 2)
    grid = torch.randint(0, 8, (2, 7, 7))
    logits = prior(grid).flatten(2)  # (B, K, 49)
    for j in (0, 10, 24, 45):
        changed = grid.clone()
        changed.view(2, -1)[:, j] = (changed.view(2, -1)[:, j] + 1) % 8
        other = prior(changed).flatten(2)
        assert torch.equal(logits[:, :, : j + 1], other[:, :, : j + 1]), j  # p(c_i | c_<i), i <= j: unchanged
        assert not torch.equal(logits[:, :, j + 1 :], other[:, :, j + 1 :]), j  # later positions do see it


def test_sampling_draws_each_code_by_inverse_cdf_and_repeats_with_the_same_noise():
    v = make()
    v.nets.eval()
    p = torch.tensor([0.5, 0.25, 0.25] + [0.0] * 13)
    with torch.no_grad():  # a prior that ignores the context: p(k) = p at every position
        head = v.nets["prior"].out[-1]
        head.weight.zero_()
        head.bias.copy_(p.clamp_min(1e-30).log())
        u = torch.tensor([[0.0, 0.49, 0.5, 0.74, 0.76, 0.999] + [0.1] * 43])
        assert v.sample_codes(u).flatten()[:6].tolist() == [0, 0, 1, 1, 2, 2]
    v = make()
    v.nets.eval()
    with torch.no_grad():
        u = v.noise(3, torch.Generator().manual_seed(4))
        assert u.shape == (3, 49) and 0 <= u.min() and u.max() < 1
        first = v.sample(u)
        assert torch.equal(first, v.sample(u)) and torch.equal(v.sample_codes(u), v.sample_codes(u))
        assert first.shape == (3, *SHAPE) and first.min() >= -1 and first.max() <= 1


def _stepwise_codes(v, u: torch.Tensor) -> torch.Tensor:
    """The sampler before raster_logits, kept as the reference: the whole prior over the whole grid
    for each position, read at that position."""
    h, w = v.grid
    codes = torch.zeros(len(u), h, w, dtype=torch.long)
    for i in range(h * w):
        r, col = divmod(i, w)
        logits = v.nets["prior"](codes)[:, :, r, col].float()
        cdf = logits.softmax(1).cumsum(1)
        pick = torch.searchsorted(cdf, u[:, i : i + 1].float().contiguous(), right=True)
        codes[:, r, col] = pick.squeeze(1).clamp(max=v.config.codebook_size - 1)
    return codes


@pytest.mark.parametrize("shape, downsamples, trained, grid, n", [
    ((1, 28, 28), 2, False, (7, 7), 300),
    ((1, 28, 28), 2, True, (7, 7), 300),
    ((3, 32, 32), 2, True, (8, 8), 300),
    ((1, 28, 28), 1, False, (14, 14), 60),  # taller than the prior's 7 rows of receptive field
    ((3, 32, 32), 3, True, (4, 4), 300),  # shorter than the 7x7 input layer
    ((1, 28, 28), 2, True, (7, 7), 1),  # one sample: another convolution path on the CPU
])
def test_row_by_row_sampler_picks_the_codes_of_the_whole_grid_prior_bit_for_bit(shape, downsamples, trained, grid, n):
    """sample_codes evaluates the prior on one row per position (PixelCNNPrior.raster_logits); the
    old sampler ran it on the whole grid. Same u, same codes, and on one thread the same logits to the
    bit; on two, oneDNN may split a one-image convolution differently for the shorter input, so the
    logits may differ in their last bits (seen in CI for n = 1), and the codes must still agree."""
    v = make(shape=shape, downsamples=downsamples, codebook_size=32, prior_width=16, prior_layers=4, vq_steps=0,
             prior_lr=1e-2)
    assert v.grid == grid
    if trained:  # a few prior steps, so that the weights are no longer their initial draw
        for step in range(5):
            assert math.isfinite(v.step(images(16, shape, seed=step), None, step)["loss_prior"])
    v.nets.eval()
    u = v.noise(n, torch.Generator().manual_seed(5))
    threads = torch.get_num_threads()
    try:
        for t in (1, 2):
            torch.set_num_threads(t)
            with torch.no_grad():
                codes = v.sample_codes(u)
                assert torch.equal(codes, _stepwise_codes(v, u)), f"{t} thread(s)"
                assert n == 1 or len(codes.unique()) > 8  # the prior and u decide, not a degenerate distribution
                # each position's logits, sampled row by row, are those of the whole-grid prior over the final grid
                streamed = torch.zeros_like(codes)
                logits = []
                for i, row_logits in enumerate(v.nets["prior"].raster_logits(streamed)):
                    logits.append(row_logits)
                    streamed.view(len(u), -1)[:, i] = codes.view(len(u), -1)[:, i]
                whole = v.nets["prior"](codes).flatten(2)  # (n, K, h*w)
                if t == 1:
                    assert torch.equal(torch.stack(logits, 2), whole)
                else:
                    torch.testing.assert_close(torch.stack(logits, 2), whole, rtol=1e-5, atol=1e-5)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("ema", [False, True])
def test_prior_steps_train_only_the_prior(ema):
    v = make(ema=ema, vq_steps=1)
    x = images(8)
    v.step(x, None, 0)  # the auto-encoder's step: the prior is left as it was
    frozen = {role: weights(v, role) for role in ("encoder", "decoder", "codebook", "prior")}
    v.step(images(8, seed=2), None, 0)
    assert same(frozen["prior"], weights(v, "prior"))
    frozen = {role: weights(v, role) for role in ("encoder", "decoder", "codebook", "prior")}
    losses = v.step(x, None, 1)  # step 1 >= vq_steps: the prior's
    for role in ("encoder", "decoder", "codebook"):
        assert same(frozen[role], weights(v, role)), role
    assert not same(frozen["prior"], weights(v, "prior"))
    assert math.isfinite(losses["loss_prior"])


def test_evaluate_scores_the_whole_test_split_and_protocol_names_the_units():
    v = make()
    v.nets.eval()
    x = images(12)
    with torch.no_grad():
        scores = v.evaluate(x, None)
        recon, index = v.reconstruct(x)
    assert set(scores) == {"recon_mse", "usage", "perplexity", "prior_nll"}
    assert scores["recon_mse"] == pytest.approx((recon - x).pow(2).mean().item(), rel=1e-5)
    counts = torch.bincount(index.flatten(), minlength=16)
    assert scores["usage"] == code_usage(counts) and scores["perplexity"] == pytest.approx(perplexity(counts))
    protocol = v.protocol()
    assert protocol["split"] == "test" and protocol["images"] == 12
    assert "[-1, 1]" in protocol["recon_mse"] and "nats" in protocol["prior_nll"]


def test_reconstruction_figure_and_steps_at_28_and_32_px():
    for shape, grid in (((1, 28, 28), (7, 7)), ((3, 32, 32), (8, 8))):
        v = make(shape=shape)
        assert v.grid == grid
        x = images(20, shape)
        with torch.no_grad():
            rows, nrow = v.figures(x, None)["reconstruction"]
        assert rows.shape == (40, *shape) and nrow == 10
        assert torch.equal(rows[:10], x[:10])
        assert math.isfinite(v.step(x[:4], None, 0)["loss_recon"])
    with pytest.raises(ParamsError, match="downsamples = 3"):
        make(downsamples=3)


def test_exported_generator_samples_like_the_trained_model(tmp_path):
    from ganlab.runs import RunDir, load_generator
    from ganlab.train.trainer import TrainConfig, Trainer

    x = images(16)
    config = TrainConfig(steps=2, batch_size=8, checkpoint_every=2, sample_every=2, log_every=1, n_samples=4)
    t = Trainer(make(vq_steps=1), x, None, config, tmp_path)
    t.fit(progress=False)
    loaded = load_generator(RunDir(tmp_path).generator)
    t.variant.nets.eval()
    loaded.nets.eval()
    u = t.variant.noise(4, torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(t.variant.sample(u), loaded.sample(u))


def test_dead_codes_restart_on_encoder_outputs_and_need_ema():
    book = Codebook(4, 2, ema=True, decay=0.5, epsilon=0.0)
    z = torch.tensor([[1.0, 1.0], [1.1, 0.9]])
    book.codes.copy_(torch.tensor([[1.0, 1.0], [-9.0, -9.0], [9.0, 9.0], [0.0, 9.0]]))
    book.ema_sum.copy_(book.codes)
    index = book.nearest(z)
    book.ema_update(z, index)  # code 0 takes both rows (count 0.5 + 1 = 1.5); the others fall to 0.5
    torch.manual_seed(0)
    book.restart_dead(z, below=0.6)
    assert book.ema_count.tolist() == [1.5, 1.0, 1.0, 1.0]
    for k in (1, 2, 3):  # each dead code now sits on one of the batch's encoder outputs
        assert any(torch.equal(book.codes[k], row) for row in z) and torch.equal(book.ema_sum[k], book.codes[k])
    with pytest.raises(ParamsError, match="restart_below = 0.5 needs model.ema"):
        make(restart_below=0.5)


def test_ema_statistics_and_restarts_resume_bit_for_bit(tmp_path):
    from ganlab.train.trainer import TrainConfig, Trainer

    x = images(32)
    config = dict(batch_size=8, checkpoint_every=2, sample_every=4, log_every=1, n_samples=4, dvclive=False)
    tiny = dict(ema=True, restart_below=0.99, vq_steps=3)  # restarts on every step, the prior from step 3 on
    straight = Trainer(make(**tiny), x, None, TrainConfig(steps=4, **config), tmp_path / "a")
    straight.fit(progress=False)
    Trainer(make(**tiny), x, None, TrainConfig(steps=2, **config), tmp_path / "b").fit(progress=False)
    resumed = Trainer(make(**tiny), x, None, TrainConfig(steps=4, **config), tmp_path / "b")
    resumed.fit(progress=False)
    a, b = straight.variant.nets.state_dict(), resumed.variant.nets.state_dict()
    assert {"codebook.ema_count", "codebook.ema_sum"} <= set(a)
    assert all(torch.equal(a[k], b[k]) for k in a)
