"""Stage fetch@<dataset>: fetch one dataset named under ``data:`` in params.yaml into data/<dataset>."""

from pathlib import Path

import typer

from ganlab.console import run_guarded, setup_logging
from ganlab.data.fetch import fetch_dataset
from ganlab.params import load_params


def main(
    dataset: str = typer.Argument(..., help="A dataset named under data: in params.yaml."),
    params: Path = typer.Option(Path("params.yaml"), help="The params file."),
    out_root: Path = typer.Option(Path("data"), help="Datasets are written to OUT_ROOT/<dataset>."),
) -> None:
    setup_logging()
    p = run_guarded(load_params, params)
    if dataset not in p.data:
        raise typer.BadParameter(f"{dataset!r} is not under data: in {params} (it has: {', '.join(p.data)})")
    run_guarded(fetch_dataset, dataset, out_root / dataset, variant=p.data[dataset].variant, progress=False)


if __name__ == "__main__":
    typer.run(main)
