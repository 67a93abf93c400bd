"""Stage report: reports/README.md and the self-contained reports/index.html, from every other
stage's outputs, with the latent interpolations and DCGAN's vector arithmetic drawn here
(params report; ganlab.report.page)."""

from pathlib import Path

import typer

from ganlab.console import run_guarded, setup_logging
from ganlab.params import load_params
from ganlab.report.page import build


def main(
    params: Path = typer.Option(Path("params.yaml"), help="The params file."),
    root: Path = typer.Option(Path("."), help="Project root: runs are read from ROOT/data/models/<run>."),
    out: Path = typer.Option(Path("reports"), help="Report folder: README.md, index.html, figures/; the other "
                                                   "stages' reports are read from under it."),
    device: str = typer.Option("cpu", help="Where the generators draw the interpolations and the arithmetic."),
) -> None:
    setup_logging()
    p = run_guarded(load_params, params)
    run_guarded(build, p.models, p.report, root, out, device)


if __name__ == "__main__":
    typer.run(main)
