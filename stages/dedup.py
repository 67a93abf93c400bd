"""Stage dedup: remove near-duplicate face crops (data/face-crops) into the faces dataset (data/faces)."""

from pathlib import Path

import typer

from ganlab.console import run_guarded, setup_logging
from ganlab.data.dedup import run_dedup
from ganlab.params import load_params


def main(
    images: Path = typer.Argument(Path("data/face-crops"), help="An image dataset, folder or archive."),
    out: Path = typer.Option(Path("data/faces"), help="Dataset folder to write."),
    report_dir: Path = typer.Option(Path("reports/dedup"), help="Where gallery.png and metrics.json go."),
    params: Path = typer.Option(Path("params.yaml"), help="The params file (section dedup:)."),
) -> None:
    setup_logging()
    p = run_guarded(load_params, params)
    run_guarded(run_dedup, images, out, p.dedup, progress=False, report_dir=report_dir)


if __name__ == "__main__":
    typer.run(main)
