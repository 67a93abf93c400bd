"""Every registered variant, small enough for CPU tests: the contract test's settings and data.

The contract test (tests/models/test_contract.py) runs each variant with the settings in ``TINY`` and
fails for a variant that has none; the trainer's tests and the mechanism tests that need a variant as
the contract builds it import them from here, so the table has one home.
"""

from __future__ import annotations

import torch

from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.train.trainer import TrainConfig

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
