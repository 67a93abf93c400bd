"""Every registered variant, small enough for CPU tests: the contract test's settings and data.

The contract test (tests/models/test_contract.py) runs each variant with the settings in ``TINY``, which
are each variant's ``CONTRACT`` in its own tests/models/test_<variant>.py, and fails for a variant that has
none; the trainer's tests and the mechanism tests that need a variant as
the contract builds it import them from here, so the table has one home.
"""

from __future__ import annotations

import ast
from pathlib import Path

import torch

from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.train.trainer import TrainConfig

MODEL_TESTS = Path(__file__).parent / "models"


def _declared(name: str) -> dict[str, object]:
    """CONTRACT and CONTRACT_CLASSES of tests/models/test_<name>.py: the file that holds a variant's own tests
    also holds its tiny settings, so adding a variant touches its file, its test file and its run alone.
    Read with ast (literals only), not imported: pytest imports the test module itself."""
    path = MODEL_TESTS / f"test_{name}.py"
    if not path.is_file():
        return {}
    found = {}
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id in ("CONTRACT", "CONTRACT_CLASSES"):
            found[node.targets[0].id] = ast.literal_eval(node.value)
    return found


_DECLARED = {name: _declared(name) for name in registry.names()}
#: variant -> its tiny settings; a registered variant without them is missing here, and the contract test fails
TINY = {name: d["CONTRACT"] for name, d in _DECLARED.items() if "CONTRACT" in d}
#: label values of the contract's data where a variant reads labels as something else (the translation
#: variants' two domains; SGAN's two classes, so that an 8-image batch holds both)
CLASSES = {name: d["CONTRACT_CLASSES"] for name, d in _DECLARED.items() if "CONTRACT_CLASSES" in d}


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


# The mechanism tests' own builders (tests/models/test_<variant>.py): a variant with exactly the settings a
# test names (not its CONTRACT), random images, and a 3-step run.


def build(name: str, classes: int = 0, seed: int = 0, **config):
    cls = registry.get(name)
    torch.manual_seed(seed)
    return cls(cls.Config(**config), DataSpec(SHAPE, classes), torch.device("cpu"))


def build_labelled(name: str, shape=SHAPE, n_classes: int = 10, **kw):
    """A variant on ``n_classes`` labelled classes (the conditional GANs' tests), seed 0."""
    cls = registry.get(name)
    torch.manual_seed(0)
    return cls(cls.Config(**kw), DataSpec(shape, n_classes), torch.device("cpu"))


def random_images(n: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def short_config(**kw) -> TrainConfig:
    return TrainConfig(**{"steps": 3, "batch_size": 8, "checkpoint_every": 3, "sample_every": 3, "log_every": 1,
                          "n_samples": 20, **kw})


#: the translation variants' mechanism tests: their settings, built on two domains (labels 0 and 1)
TRANSLATION = {"cyclegan": {"width": 4, "n_blocks": 1, "history": 3, "pool_size": 6},
               "discogan": {"width": 4, "pool_size": 6}}


def build_translation(name: str, seed: int = 0, **config):
    cls = registry.get(name)
    torch.manual_seed(seed)
    return cls(cls.Config(**{**TRANSLATION[name], **config}), DataSpec(SHAPE, 2), torch.device("cpu"))


def domain_batch(labels: list[int], seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Random images with the given domain labels."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(len(labels), *SHAPE, generator=g) * 2 - 1, torch.tensor(labels)


#: the sequence variants' mechanism tests: token sequences of SEQ_LENGTH over SEQ_VOCAB, and their settings
#: (each variant takes the fields its Config has)
SEQ_LENGTH, SEQ_VOCAB = 6, 9
SEQUENCE = {"embed": 8, "hidden": 8, "pretrain_steps": 2, "d_pretrain_steps": 2, "d_steps": 3, "rollouts": 4,
            "d_embed": 8, "d_filter_sizes": (1, 2, 3), "d_filter_counts": (4, 4, 4)}


def build_sequence(name: str, seed: int = 0, **config):
    cls = registry.get(name)
    torch.manual_seed(seed)
    fields = {k: v for k, v in {**SEQUENCE, **config}.items() if k in cls.Config.__dataclass_fields__}
    return cls(cls.Config(**fields), DataSpec((SEQ_LENGTH,), 0, vocab=SEQ_VOCAB), torch.device("cpu"))


def random_tokens(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, SEQ_VOCAB, (n, SEQ_LENGTH), generator=torch.Generator().manual_seed(seed))
