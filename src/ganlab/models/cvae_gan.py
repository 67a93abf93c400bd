"""CVAE-GAN: a conditional VAE whose decoder is also a GAN generator, trained with an asymmetric loss.

Bao, Chen, Wen, Li & Hua, "CVAE-GAN: Fine-Grained Image Generation through Asymmetric Training",
ICCV 2017. Four networks: an encoder E(x, c) -> (mu, logvar), a generator G(z, c), a
discriminator D (real or fake) and a classifier C (which class). D and C are trained with cross
entropy, C on real images only; the generator is not trained on their outputs but on their
features (the paper's asymmetric training):

    L_KL = KL(q(z|x, c) || N(0, I))                                         E
    L_G  = 1/2 (||x - x'||^2 + ||f_D(x) - f_D(x')||^2 + ||f_C(x) - f_C(x')||^2)   E, G
    L_GD = 1/2 ||mean f_D(x) - mean f_D(x_p)||^2                           G
    L_GC = 1/2 sum_c ||mean f_C(x of class c) - mean f_C(x_p of class c)||^2    G

with x' = G(z, c), z ~ q(z|x, c), a reconstruction, and x_p = G(z_p, c_p), z_p ~ N(0, I), a
sample. D is trained on x against both x' and x_p. E and G minimise
lambda_1 L_KL + lambda_2 L_G + lambda_3 L_GD + lambda_4 L_GC in one backward pass: each term
reaches only the networks the paper's Algorithm 1 updates with it. Matching means (the paper's
"mean discrepancy") keeps G's gradient alive where D or C would saturate on a cross-entropy loss.

DCGAN networks. D and C have no batch norm: it would normalise away the batch means of the
features that L_GD and L_GC compare. f_D and f_C are the last convolutional feature maps. The
samples' classes c_p are the real batch's labels, so every class of the batch has both means in
L_GC. On short runs the paper's lambda_3 = lambda_4 = 1e-3 leave the class unused, z carrying it
(MNIST, 700 steps: each row of the class grid one digit); 0.1 gives one class per column by 350.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.errors import ParamsError
from ganlab.models.base import Variant, hp
from ganlab.models.blocks import dcgan_discriminator, dcgan_generator, dcgan_init, interleave_rows
from ganlab.models.losses import kl_standard_normal
from ganlab.models.registry import register


@dataclass(frozen=True)
class CvaeGanConfig:
    z_dim: int = hp(100, "latent size (DCGAN's)", min=1, max=4096)
    width: int = hp(64, "feature maps of the highest-resolution layer of E, G, D and C, as DCGAN", min=1, max=1024)
    lambda_kl: float = hp(3.0, "lambda_1, weight of L_KL (the paper: 3)", min=0.0, max=1e6)
    lambda_recon: float = hp(1.0, "lambda_2, weight of L_G, the pixel and pairwise feature reconstruction "
                             "(the paper: 1)", min=0.0, max=1e6)
    lambda_gd: float = hp(1e-3, "lambda_3, weight of L_GD, mean feature matching against D (the paper: 1e-3)",
                          min=0.0, max=1e6)
    lambda_gc: float = hp(1e-3, "lambda_4, weight of L_GC, class-wise mean feature matching against C "
                          "(the paper: 1e-3)", min=0.0, max=1e6)
    lr: float = hp(2e-4, "Adam step of the four networks, DCGAN's", min=1e-8, max=1.0)
    beta1: float = hp(0.5, "Adam beta1, DCGAN's", min=0.0, max=0.999)


class FeatureNet(nn.Module):
    """A DCGAN discriminator without batch norm, split into a body whose output is the feature
    layer f (the last convolutional map, flattened) and a head of ``outputs`` logits."""

    def __init__(self, channels: int, size: int, width: int, outputs: int) -> None:
        super().__init__()
        net = dcgan_discriminator(channels, size, width, norm="none", outputs=outputs)
        self.body, self.head = net[:-2], net[-2:]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, features)."""
        h = self.body(x)
        return self.head(h), h.flatten(1)


class Encoder(nn.Module):
    """E(x, c) -> (mu, logvar): DCGAN's discriminator body on x, the one-hot class beside its features."""

    def __init__(self, channels: int, size: int, width: int, classes: int, z_dim: int) -> None:
        super().__init__()
        self.body = dcgan_discriminator(channels, size, width)[:-2]
        with torch.no_grad():
            feats = self.body(torch.zeros(2, channels, size, size)).flatten(1).shape[1]
        self.head = nn.Linear(feats + classes, 2 * z_dim)
        self.head.apply(dcgan_init)
        self.classes = classes

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.cat([self.body(x).flatten(1), F.one_hot(c, self.classes).to(x.dtype)], 1)
        mu, logvar = self.head(h).float().chunk(2, 1)
        return mu, logvar


def pairwise_l2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """||a - b||^2 per row, over every other dimension."""
    return (a - b).pow(2).flatten(1).sum(1)


def mean_feature_matching(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """L_GD: 1/2 ||mean of the real features - mean of the fake features||^2."""
    return 0.5 * (real.mean(0) - fake.mean(0)).pow(2).sum()


def classwise_mean_feature_matching(real: torch.Tensor, real_labels: torch.Tensor, fake: torch.Tensor,
                                    fake_labels: torch.Tensor, classes: int) -> torch.Tensor:
    """L_GC: 1/2 sum over the classes present in both batches of ||class mean of real - of fake||^2."""
    def class_means(f: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        members = F.one_hot(labels, classes).to(f.dtype).t()  # (K, B)
        counts = members.sum(1)
        return members @ f / counts.clamp_min(1).unsqueeze(1), counts > 0  # (K, features), (K,)

    real_means, in_real = class_means(real, real_labels)
    fake_means, in_fake = class_means(fake, fake_labels)
    both = (in_real & in_fake).unsqueeze(1)
    return 0.5 * ((real_means - fake_means).pow(2) * both).sum()


@register("cvae_gan")
class CVAEGAN(Variant):
    """CVAE-GAN: conditional VAE + GAN with classifier, mean feature matching for G (Bao et al., 2017)."""

    Config = CvaeGanConfig
    conditional = True
    generator_roles = ("generator", "encoder")  # the encoder too: the reconstructions are drawn from it
    reads_test_split = True  # evaluate: reconstruction error and C's accuracy on the test split

    def build(self) -> dict[str, nn.Module]:
        c, (channels, size, _), k = self.config, self.data.shape, self.data.n_classes
        if k < 2:
            raise ParamsError(f"cvae_gan needs a labelled dataset with at least 2 classes; the data have {k}")
        return {
            "encoder": Encoder(channels, size, c.width, k, c.z_dim),
            "generator": dcgan_generator(c.z_dim + k, channels, size, c.width),
            "discriminator": FeatureNet(channels, size, c.width, 1),
            "classifier": FeatureNet(channels, size, c.width, k),
        }

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        adam = {"lr": c.lr, "betas": (c.beta1, 0.999)}
        e_and_g = [*self.nets["encoder"].parameters(), *self.nets["generator"].parameters()]
        return {
            "generator": torch.optim.Adam(e_and_g, **adam),  # E and G: one loss, one backward
            "discriminator": torch.optim.Adam(self.nets["discriminator"].parameters(), **adam),
            "classifier": torch.optim.Adam(self.nets["classifier"].parameters(), **adam),
        }

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.config.z_dim, generator=generator).to(self.device)

    def sample(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            y = self.random_labels(len(z))
        return self.nets["generator"](torch.cat([z, F.one_hot(y, self.data.n_classes).to(z.dtype)], 1))

    def grid_inputs(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One z per row, one class per column: row r is z_r drawn as class 0, 1, ..., K-1."""
        k = self.data.n_classes
        rows = -(-n // k)
        z = self.noise(rows, generator=generator).repeat_interleave(k, 0)[:n]
        return z, (torch.arange(n) % k).to(self.device)

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.nets["encoder"](x, y)

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        if y is None:
            raise ValueError("cvae_gan needs labelled data")
        c, d, cls = self.config, self.nets["discriminator"], self.nets["classifier"]
        # C: cross entropy on real images only
        logits_real, _ = cls(x)
        loss_c = F.cross_entropy(logits_real, y)
        self.update("classifier", loss_c)
        # D: real against both the reconstructions x' and the samples x_p
        mu, logvar = self.encode(x, y)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        x_rec = self.sample(z, y)
        y_p = y  # c_p: the batch's labels, a draw from the class prior holding every class of the batch
        x_p = self.sample(self.noise(len(x)), y_p)
        real, _ = d(x)
        loss_d = F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
        for fake in (x_rec, x_p):
            logits, _ = d(fake.detach())
            loss_d = loss_d + F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))
        self.update("discriminator", loss_d)
        # E and G against the updated D and C: features, never their cross entropies
        with torch.no_grad():
            fd_real, fc_real = d.features(x), cls.features(x)
        fd_rec, fc_rec = d.features(x_rec), cls.features(x_rec)
        fd_p, fc_p = d.features(x_p), cls.features(x_p)
        kl = kl_standard_normal(mu, logvar).mean()
        recon = 0.5 * (pairwise_l2(x, x_rec) + pairwise_l2(fd_real, fd_rec) + pairwise_l2(fc_real, fc_rec)).mean()
        gd = mean_feature_matching(fd_real, fd_p)
        gc = classwise_mean_feature_matching(fc_real, y, fc_p, y_p, self.data.n_classes)
        loss = c.lambda_kl * kl + c.lambda_recon * recon + c.lambda_gd * gd + c.lambda_gc * gc
        self.update("generator", loss)
        accuracy = (logits_real.argmax(1) == y).float().mean()
        return {"loss_c": loss_c.item(), "loss_d": loss_d.item(), "loss_kl": kl.item(), "loss_recon": recon.item(),
                "loss_gd": gd.item(), "loss_gc": gc.item(), "real_class_accuracy": accuracy.item()}

    def figures(self, real: torch.Tensor, labels: torch.Tensor | None) -> dict[str, tuple[torch.Tensor, int]]:
        """``reconstruction``: rows of real images alternating with G(mu(x, c), c)."""
        if labels is None:
            return {}
        mu, _ = self.encode(real, labels)
        return {"reconstruction": interleave_rows(real, self.sample(mu.to(real.dtype), labels))}

    def evaluate(self, images: torch.Tensor, labels: torch.Tensor | None) -> dict[str, float]:
        """Over the whole test split: the per-pixel squared error of G(mu(x, c), c), and C's accuracy."""
        squared, correct = 0.0, 0
        for x, y in zip(images.split(500), labels.split(500)):
            mu, _ = self.encode(x, y)
            squared += (self.sample(mu.to(x.dtype), y).float() - x.float()).pow(2).sum().item()
            correct += (self.nets["classifier"](x)[0].argmax(1) == y).sum().item()
        return {"recon_mse": squared / images.numel(), "classifier_accuracy": correct / len(images)}

    def protocol(self) -> dict[str, Any]:
        return {"split": "test", "images": "all",
                "recon_mse": "mean squared error per pixel of G(mu(x, c), c), pixels scaled to [-1, 1]",
                "classifier_accuracy": "C's top-1 accuracy on the real test images"}
