"""The ``report:`` section of params.yaml: what stage ``report`` draws besides the pipeline's own outputs.

It lives beside the report code that reads it (ganlab.report.page), and ganlab.params only assembles
it; torch-free, so a params file is validated without loading torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ganlab.errors import ParamsError
from ganlab.schema import hp, join, shown


@dataclass(frozen=True)
class ConceptSum:
    """One line of DCGAN's vector arithmetic (Radford et al. 2016, Figure 7): mean z of the candidate
    samples in ``a`` - mean z of ``b`` + mean z of ``c``. Indices count the numbered candidate grid."""

    a: tuple[int, ...] = hp((), "candidate indices of concept A (the paper: three)")
    b: tuple[int, ...] = hp((), "candidate indices of concept B, subtracted")
    c: tuple[int, ...] = hp((), "candidate indices of concept C, added")


@dataclass(frozen=True)
class ReportConfig:
    """Stage report: reports/index.html and reports/README.md (``report:`` in params.yaml)."""

    seed: int = hp(0, "seed of the latent codes of the interpolations and the arithmetic candidates", min=0,
                   max=2**31 - 1)
    interpolation_rows: int = hp(4, "walks per interpolation grid", min=1, max=64)
    interpolation_steps: int = hp(10, "images per walk, both ends included", min=2, max=64)
    arithmetic_run: str = hp("dcgan-faces", "run whose latent space the vector arithmetic uses ('' = none)")
    arithmetic_candidates: int = hp(64, "numbered samples drawn with the seed; the concepts pick from them",
                                    min=1, max=1024)
    arithmetic_noise: float = hp(0.25, "the paper's uniform noise (+-) added to the result for its variations",
                                 min=0.0, max=10.0)
    arithmetic_variations: int = hp(8, "images drawn around each result (the first without noise)", min=1, max=64)
    arithmetic: dict[str, ConceptSum] = hp({}, "title -> the candidate indices of A - B + C")

    def check_runs(self, models: Mapping[str, Any], where: str) -> None:
        """The arithmetic run exists and every index is a candidate."""
        if not self.arithmetic or not self.arithmetic_run:
            return
        if self.arithmetic_run not in models:
            raise ParamsError(f"{where}.arithmetic_run = {shown(self.arithmetic_run)}: no such run under models:; runs: "
                              f"{', '.join(sorted(models))}")
        for title, concept in self.arithmetic.items():
            for part in ("a", "b", "c"):
                indices = getattr(concept, part)
                if not indices:
                    raise ParamsError(f"{join(join(where, 'arithmetic'), title)}.{part} is empty: name at least one candidate")
                bad = [i for i in indices if not 0 <= i < self.arithmetic_candidates]
                if bad:
                    raise ParamsError(f"{join(join(where, 'arithmetic'), title)}.{part} = {shown(list(indices))}: "
                                      f"{shown(bad)} outside the "
                                      f"{self.arithmetic_candidates} candidates (0..{self.arithmetic_candidates - 1})")
