"""GAN: multilayer-perceptron generator and discriminator, non-saturating generator loss.

Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014. The networks are the usual
modern reading of the paper's: the maxout discriminator becomes LeakyReLU layers with dropout,
and the generator's hidden layers get batch norm and LeakyReLU. With the paper's plain ReLU
generator, the CPU profile (5,000 steps on MNIST) collapsed to a single digit, all 1s; with
batch norm, as DCGAN later prescribed, the same run gives varied digits.

``arch: affine`` is the 1-D toy of the paper's Figure 1: data x ~ N(mu, sigma), generator
G(z) = w * z + b with z ~ N(0, 1), discriminator D(x) = sigmoid(w1 * x + b1). The generator can
represent the data exactly at (w, b) = (+-sigma, mu), and every step logs w and b so one can
watch whether training gets there. (It does not, quite: a logistic discriminator sees only the
mean, so b is pulled to mu while w gets no signal towards sigma; see the train@gan-toy run.)

``arch: toy`` is the plain MLP of the 2-D mode-collapse experiments (data/toy-ring, data/toy-grid): generator
z -> h -> h -> 2 with ReLU and a linear output, discriminator 2 -> h -> h -> 1 logit with ReLU, no batch norm,
no dropout, no tanh (the ring's radius is 2 and the grid reaches 4: the points are not rescaled to [-1, 1]).
It follows Metz et al. (2017, Unrolled GAN, Appendix A) in the generator (two hidden ReLU layers of 128 from
z of 256, a linear projection to 2: set ``hidden: 128``, ``z_dim: 256``) and in ReLU hidden layers and a logit
for the discriminator. Where it does not: the discriminator here has two hidden layers and reads the points
as they are, where the appendix (as we read it; its text could not be checked here) gives it one hidden layer
after scaling the input down by 4; and the weights keep PyTorch's default initialisation instead of the
appendix's orthogonal one (gain 0.8). The unrolling itself is no part of this variant.

The lessons of training GANs are options of this step (:class:`GanOptions`; DCGAN's config takes them too),
each off by default: the saturating generator loss and k discriminator steps of Goodfellow et al. (2014), and
feature matching, minibatch discrimination, historical averaging, one-sided label smoothing and virtual batch
norm of Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016 (sections 3.1 to 3.5).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ganlab.errors import ParamsError
from ganlab.models.base import DataSpec, Variant, hp
from ganlab.models.blocks import mlp_networks, point_networks
from ganlab.models.losses import d_loss_bce, feature_matching, g_loss_nonsaturating, g_loss_saturating
from ganlab.models.registry import register

G_LOSSES = {"nonsaturating": g_loss_nonsaturating, "saturating": g_loss_saturating}


@dataclass(frozen=True)
class GanOptions:
    """The options of GAN.step, in the configs of GAN, DCGAN and the variants built on them; each default is
    the plain step. A variant whose step or networks do not honour one names it in ``not_honoured``."""

    g_loss: str = hp("nonsaturating", "the generator's log loss: nonsaturating = -log D(G(z)); saturating = "
                                      "log(1 - D(G(z))), the minimax game's, flat where D rejects the fakes "
                                      "(Goodfellow et al. 2014, section 3)", choices=tuple(G_LOSSES))
    d_steps: int = hp(1, "discriminator steps per generator step, each on a fresh real batch: Algorithm 1's k "
                         "(Goodfellow et al. 2014; the paper used k = 1)", min=1, max=100)
    feature_matching: bool = hp(False, "the generator matches the mean of the discriminator's last hidden "
                                       "features on real and fake batches, ||E f(x) - E f(G(z))||^2, instead of "
                                       "its log loss (Salimans et al. 2016, section 3.1)")
    minibatch_kernels: int = hp(0, "minibatch discrimination before the discriminator's last layer with B kernels "
                                   "(Salimans et al. 2016, section 3.2; the authors' code: 100); 0 = none",
                                min=0, max=1024)
    minibatch_kernel_dim: int = hp(5, "minibatch discrimination's C, the size of each kernel (the authors' code: "
                                      "5); read only with minibatch_kernels", min=1, max=256)
    historical_averaging: float = hp(0.0, "weight of each player's penalty ||theta - (1/t) sum_i theta[i]||^2 "
                                          "towards the mean of its past parameters (Salimans et al. 2016, section "
                                          "3.3: weight 1); 0 = none", min=0.0, max=1000.0)
    real_label: float = hp(1.0, "the discriminator's target for real images; alpha < 1 is one-sided label "
                                "smoothing, fakes keep 0 (Salimans et al. 2016, section 3.4: 0.9)", min=0.5, max=1.0)
    vbn_reference: int = hp(0, "virtual batch norm in the generator in place of batch norm, with a reference "
                               "batch of this many noise codes drawn once at the start (Salimans et al. 2016, "
                               "section 3.5); 0 = batch norm", min=0, max=4096)

    #: option -> why this config's variant does not honour it: set away from its default, it is refused
    not_honoured: ClassVar[dict[str, str]] = {}

    def __post_init__(self) -> None:
        self.refuse(self.not_honoured)
        if self.feature_matching:
            self.refuse({"g_loss": "feature matching replaces the generator's log loss"})
        if self.minibatch_kernels == 0 and self.minibatch_kernel_dim != 5:
            raise ParamsError(f"minibatch_kernel_dim = {self.minibatch_kernel_dim} is read only with minibatch "
                              "discrimination; set minibatch_kernels too")

    def refuse(self, why: dict[str, str]) -> None:
        """A ParamsError naming the first option of ``why`` that is set (away from its default), with the reason."""
        for f in dataclasses.fields(self):
            if f.name in why and getattr(self, f.name) != f.default:
                raise ParamsError(f"{f.name} = {getattr(self, f.name)!r} is not available here: {why[f.name]}")


NO_OPTIONS = GanOptions()  # the plain step
#: every option of GAN.step, for the variants that honour none of them
GAN_OPTIONS = tuple(f.name for f in dataclasses.fields(GanOptions))
#: the options that change the networks: the MLP's (arch = mlp) and DCGAN's networks take them
NETWORK_OPTIONS = ("feature_matching", "minibatch_kernels", "vbn_reference")


@dataclass(frozen=True)
class GanConfig(GanOptions):
    z_dim: int = hp(100, "latent size", min=1, max=4096)
    hidden: int = hp(256, "width h: the generator's layers are h then 2h wide, the discriminator's 2h then h "
                     "(arch toy: every hidden layer is h wide)", min=1, max=65536)
    dropout: float = hp(0.3, "discriminator dropout (arch mlp)", min=0.0, max=0.95)
    lr: float = hp(2e-4, "Adam step", min=1e-8, max=1.0)
    beta1: float = hp(0.5, "Adam beta1, as for DCGAN: momentum 0.9 makes GAN training oscillate", min=0.0, max=0.999)
    arch: str = hp("mlp", "mlp = the MNIST networks; affine = the 1-D toy G(z) = w*z + b, D(x) = sigmoid(w1*x + b1); "
                   "toy = the 2-D toys' ReLU MLPs, two hidden layers each, linear output (Unrolled GAN)",
                   choices=("mlp", "affine", "toy"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.arch == "affine":
            self.refuse(dict.fromkeys(NETWORK_OPTIONS, "arch = 'affine' has no hidden layers or batch norm"))
        if self.arch == "toy":
            self.refuse({"vbn_reference": "arch = 'toy' has no batch norm to replace"})
        if self.arch == "affine" and self.z_dim != 1:
            raise ParamsError(f"arch = 'affine' (the 1-D toy) needs z_dim = 1, got z_dim = {self.z_dim}")


@register("gan")
class GAN(Variant):
    """Original GAN: MLP generator and discriminator, non-saturating generator loss (Goodfellow et al., 2014)."""

    Config = GanConfig

    def __init__(self, config: Any, data: DataSpec, device: torch.device) -> None:
        super().__init__(config, data, device)
        #: historical averaging: role -> (t, the mean of its parameters over its t updates so far)
        self.history: dict[str, tuple[int, list[torch.Tensor]]] = {}

    def build(self) -> dict[str, nn.Module]:
        c, h = self.config, self.config.hidden
        pixels = math.prod(self.data.shape)
        if c.arch == "affine":
            if pixels != 1:
                raise ParamsError(f"arch = 'affine' is the 1-D toy; the data here are {self.data.shape}")
            return {"generator": nn.Linear(1, 1), "discriminator": nn.Linear(1, 1)}  # w*z + b; w1*x + b1 (logit)
        if c.arch == "toy":
            if self.data.shape[1:] != (1, 1):
                raise ParamsError(f"arch = 'toy' is for points, fed as (d, 1, 1); the data here are {self.data.shape}")
            return point_networks(c.z_dim, pixels, h, minibatch=self.minibatch_shape())
        return mlp_networks(c.z_dim, pixels, h, c.dropout, reference=self.reference_codes(),
                            minibatch=self.minibatch_shape())

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        return {
            role: torch.optim.Adam(self.nets[role].parameters(), lr=c.lr, betas=(c.beta1, 0.999))
            for role in ("generator", "discriminator")
        }

    @property
    def makes_images(self) -> bool:
        return self.config.arch == "mlp"

    def points(self, samples: torch.Tensor) -> torch.Tensor | None:
        # (N, d, 1, 1) -> (N, d); subclasses that draw images (DCGAN, CGAN) have no arch and no points
        return samples.flatten(1) if not self.makes_images and self.config.arch == "toy" else None

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.config.z_dim, generator=generator).to(self.device)

    def sample(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.nets["generator"](z).view(len(z), *self.data.shape)

    def d_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The discriminator's logit for each image (the MLP takes them flat)."""
        return self.nets["discriminator"](x.flatten(1))

    def d_logits_and_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The logits and the features the discriminator's last layer reads: for the MLP its last hidden layer,
        (N, hidden) after LeakyReLU and dropout (feature matching's intermediate layer, section 3.1)."""
        net = self.nets["discriminator"]
        features = net[:-1](x.flatten(1))
        return net[-1](features), features

    # The losses on discriminator logits; LSGAN and SNGAN change only these.
    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return d_loss_bce(real_logits, fake_logits, self.options.real_label)

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return G_LOSSES[self.options.g_loss](fake_logits)

    # ------------------------------------------------------------------ the options of the step (GanOptions)

    @property
    def options(self) -> GanOptions:
        """The step's options: the config's, or all off for a subclass whose config has none (SAGAN's)."""
        return self.config if isinstance(self.config, GanOptions) else NO_OPTIONS

    def real_batches_per_step(self, step: int) -> int:
        return self.options.d_steps  # a fresh real batch for each discriminator step

    def reference_codes(self) -> torch.Tensor | None:
        """Virtual batch norm's reference batch: codes drawn once, when the networks are built (from the global
        generator, seeded with the run's seed for the initial weights), kept in the generator's state; None
        without virtual batch norm."""
        n = self.options.vbn_reference
        return self.noise(n) if n else None

    def minibatch_shape(self) -> tuple[int, int] | None:
        """(B, C) of the discriminator's minibatch-discrimination layer; None without one."""
        o = self.options
        return (o.minibatch_kernels, o.minibatch_kernel_dim) if o.minibatch_kernels else None

    def generator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """The generator's objective on a real and a generated batch: feature matching (section 3.1) when the
        option is on, else ``g_loss`` of the discriminator's logits."""
        if not self.options.feature_matching:
            return self.g_loss(self.d_logits(fake))
        with torch.no_grad():  # the real side is a target: only G(z) carries gradient to the generator
            real_features = self.d_logits_and_features(real)[1]
        return feature_matching(real_features, self.d_logits_and_features(fake)[1])

    def with_history(self, role: str, loss: torch.Tensor) -> torch.Tensor:
        """``loss`` plus historical averaging's penalty on ``role``'s parameters (section 3.3), weight w:
        w ||theta - (1/t) sum_{i=1..t} theta[i]||^2, theta[i] the parameters at the player's i-th update (this
        one included), the mean updated online and held as a constant; ``loss`` itself when the option is off."""
        weight = self.options.historical_averaging
        if not weight:
            return loss
        params = list(self.nets[role].parameters())
        count, mean = self.history.get(role, (0, [torch.zeros_like(p) for p in params]))
        count += 1
        with torch.no_grad():
            mean = [m + (p - m) / count for p, m in zip(params, mean)]
        self.history[role] = (count, mean)
        return loss + weight * sum((p - m).pow(2).sum() for p, m in zip(params, mean))

    def state_dict(self) -> dict[str, Any]:
        if not self.options.historical_averaging:
            return super().state_dict()
        history = {role: {"count": t, "mean": mean} for role, (t, mean) in self.history.items()}
        return {**super().state_dict(), "history": history}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if self.options.historical_averaging:
            self.history = {role: (int(h["count"]), [m.to(self.device) for m in h["mean"]])
                            for role, h in state["history"].items()}

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        for real in x.chunk(self.real_batches_per_step(step)):  # Algorithm 1's k steps, each on a fresh real batch
            fake = self.sample(self.noise(len(real)))
            loss_d = self.d_loss(self.d_logits(real), self.d_logits(fake.detach()))
            self.update("discriminator", self.with_history("discriminator", loss_d))
        loss_g = self.generator_loss(real, fake)  # on the last fakes: G has not moved since they were drawn
        self.update("generator", self.with_history("generator", loss_g))
        losses = {"loss_d": loss_d.item(), "loss_g": loss_g.item()}
        # the 1-D toy's whole generator and discriminator, to watch (the image subclasses have no arch)
        if not self.makes_images and self.config.arch == "affine":
            g, d = self.nets["generator"], self.nets["discriminator"]
            losses.update(w=g.weight.item(), b=g.bias.item(), w1=d.weight.item(), b1=d.bias.item())
        if not self.makes_images:  # the toys: how much the generator was told, the saturating loss's lesson
            losses["grad_g"] = self.grad_norm("generator")
        return losses

    def grad_norm(self, role: str) -> float:
        """The L2 norm of ``role``'s gradient from its last update (the gradients stay until its next one)."""
        grads = [p.grad for p in self.nets[role].parameters() if p.grad is not None]
        return float(torch.sqrt(sum(g.pow(2).sum() for g in grads))) if grads else 0.0
