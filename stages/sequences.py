"""Stage sequences: the sequence-GAN tables, curves and sample sentences into reports/sequences."""

from pathlib import Path

import typer

from ganlab.console import run_guarded, setup_logging
from ganlab.params import load_params
from ganlab.report.sequences import build


def main(
    params: Path = typer.Option(Path("params.yaml"), help="The params file (its sequence runs under models:)."),
    data_root: Path = typer.Option(Path("data"), help="Datasets and data/models/<run> are read from here."),
    out: Path = typer.Option(Path("reports/sequences"), help="Folder to write README.md, metrics.json and figures."),
) -> None:
    setup_logging()
    p = run_guarded(load_params, params)
    run_guarded(build, p.models, data_root, out)


if __name__ == "__main__":
    typer.run(main)
