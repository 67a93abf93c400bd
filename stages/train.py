"""Stage train@<run>: train the run named under models: in params.yaml into data/models/<run>.

Also the command for several processes: ``torchrun --nproc_per_node 2 stages/train.py <run>``.
"""

from pathlib import Path

import typer

from ganlab.console import run_guarded, setup_logging
from ganlab.params import load_params
from ganlab.train.run import train_run


def main(
    run: str = typer.Argument(..., help="A run named under models: in params.yaml."),
    params: Path = typer.Option(Path("params.yaml"), help="The params file."),
    data_root: Path = typer.Option(Path("data"), help="Datasets are read from DATA_ROOT/<dataset>."),
    out: Path = typer.Option(None, help="Output folder; default DATA_ROOT/models/<run>."),
    progress: bool = typer.Option(False, help="Show a progress bar (off in the pipeline: logs instead)."),
) -> None:
    setup_logging()
    p = run_guarded(load_params, params)
    # "stale": a run this one cannot continue (its params or code changed: `dvc exp run -S ...`) is replaced;
    # DVC's cache keeps every committed run's outputs, so the replaced one is lost to no one
    run_guarded(train_run, p.models, run, data_root, out, restart="stale", progress=progress)


if __name__ == "__main__":
    typer.run(main)
