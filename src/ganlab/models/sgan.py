"""SGAN: semi-supervised GAN, a discriminator that classifies into N classes plus "fake".

Odena, "Semi-Supervised Learning with Generative Adversarial Networks", 2016; the same
N+1-class discriminator as Salimans et al., "Improved Techniques for Training GANs", NeurIPS
2016, section 5. The discriminator's last layer has N+1 logits: the N real classes and one for
generated images. It is trained on three things at once: a small labelled subset (cross-entropy
on the true class), the unlabelled training images (not fake: -log(1 - p_fake)), and generated
images (fake: -log p_fake). The generator is trained to make D put its mass on the real classes.
The point of the paper: the unlabelled and generated images make D a better classifier than the
same network trained on the labelled subset alone. So this variant trains that baseline beside
it (role ``baseline``: the same architecture, the same labelled batches, the same optimizer
settings, no GAN) and reports both test accuracies after training (``test/accuracy`` and
``test/baseline_accuracy``).

The networks are DCGAN's (Odena used DCGAN's; Salimans et al. a deeper weight-normalised net).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.errors import ParamsError
from ganlab.models.base import hp
from ganlab.models.blocks import dcgan_discriminator, dcgan_generator
from ganlab.models.dcgan import DCGAN
from ganlab.models.registry import register


@dataclass(frozen=True)
class SganConfig:
    z_dim: int = hp(100, "latent size", min=1, max=4096)
    width: int = hp(64, "feature maps of the highest-resolution layer, as DCGAN", min=1, max=1024)
    labels_per_class: int = hp(10, "labelled training images per class (the paper's MNIST runs: 10 to 100)",
                               min=1, max=100_000)
    labelled_batch: int = hp(64, "labelled images per step, drawn with replacement from the labelled subset",
                             min=1, max=65536)
    lr: float = hp(2e-4, "Adam step, DCGAN's", min=1e-8, max=1.0)
    beta1: float = hp(0.5, "Adam beta1, DCGAN's", min=0.0, max=0.999)


def fake_logit_loss(logits: torch.Tensor, fake: bool) -> torch.Tensor:
    """-log p(fake | x) for generated images, -log(1 - p(fake | x)) for real ones, from N+1 logits
    whose last one is "fake": 1 - p_fake is the softmax mass on the N real classes."""
    log_p_fake = logits[:, -1] - torch.logsumexp(logits, 1)
    log_p_real = torch.logsumexp(logits[:, :-1], 1) - torch.logsumexp(logits, 1)
    return -(log_p_fake if fake else log_p_real).mean()


@register("sgan")
class SGAN(DCGAN):
    """SGAN: semi-supervised GAN, an N+1-class discriminator trained on a few labels (Odena, 2016)."""

    Config = SganConfig
    labelled = True
    reads_test_split = True  # evaluate: the discriminator's accuracy on the test split

    def build(self) -> dict[str, nn.Module]:
        c, (channels, size, _), k = self.config, self.data.shape, self.data.n_classes
        if k < 2:
            raise ParamsError(f"sgan needs a labelled dataset with at least 2 classes; the data have {k}")
        return {
            "generator": dcgan_generator(c.z_dim, channels, size, c.width),
            "discriminator": dcgan_discriminator(channels, size, c.width, outputs=k + 1),
            "baseline": dcgan_discriminator(channels, size, c.width, outputs=k + 1),
        }

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        return {role: torch.optim.Adam(self.nets[role].parameters(), lr=c.lr, betas=(c.beta1, 0.999))
                for role in ("generator", "discriminator", "baseline")}

    def prepare(self, images: torch.Tensor, labels: torch.Tensor | None, seed: int) -> None:
        """Pick the labelled subset: ``labels_per_class`` images of every class, by seed."""
        if labels is None:
            raise ParamsError("sgan needs the class labels of its training data")
        g = torch.Generator().manual_seed(seed * 7919 + 11)
        picks = []
        for k in range(self.data.n_classes):
            members = (labels == k).nonzero().flatten()
            if len(members) < self.config.labels_per_class:
                raise ParamsError(f"model.labels_per_class = {self.config.labels_per_class}: class {k} has only "
                                  f"{len(members)} training images")
            picks.append(members[torch.randperm(len(members), generator=g)[: self.config.labels_per_class]])
        idx = torch.cat(picks)
        self.labelled_x = images[idx].to(self.device)
        self.labelled_y = labels[idx].to(self.device)

    def labelled_minibatch(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not hasattr(self, "labelled_x"):
            raise RuntimeError("sgan: prepare() was not called with the training set")
        i = torch.randint(0, len(self.labelled_y), (self.config.labelled_batch,)).to(self.device)
        return self.labelled_x[i], self.labelled_y[i]

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        xl, yl = self.labelled_minibatch()  # x's own labels are never read: it is the unlabelled set
        d = self.nets["discriminator"]
        fake = self.sample(self.noise(len(x)))
        loss_sup = F.cross_entropy(d(xl), yl)
        loss_unsup = fake_logit_loss(d(x), fake=False) + fake_logit_loss(d(fake.detach()), fake=True)
        self.update("discriminator", loss_sup + loss_unsup)
        loss_g = fake_logit_loss(d(fake), fake=False)
        self.update("generator", loss_g)
        loss_base = F.cross_entropy(self.nets["baseline"](xl), yl)
        self.update("baseline", loss_base)
        return {"loss_d_supervised": loss_sup.item(), "loss_d_unsupervised": loss_unsup.item(),
                "loss_g": loss_g.item(), "loss_baseline": loss_base.item()}

    def classify(self, x: torch.Tensor, role: str = "discriminator", batch: int = 1000) -> torch.Tensor:
        """Predicted classes: the argmax over the N real-class logits."""
        return torch.cat([self.nets[role](x[i : i + batch])[:, :-1].argmax(1) for i in range(0, len(x), batch)])

    def evaluate(self, images: torch.Tensor, labels: torch.Tensor | None) -> dict[str, float]:
        if labels is None:
            return {}
        return {
            "accuracy": (self.classify(images) == labels).float().mean().item(),
            "baseline_accuracy": (self.classify(images, "baseline") == labels).float().mean().item(),
            "n_test": float(len(labels)),
            "n_labelled": float(len(self.labelled_y)) if hasattr(self, "labelled_y") else 0.0,
        }
