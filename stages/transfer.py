"""Stage transfer: DCGAN's CIFAR-10 transfer test (params transfer) of the discriminators of
transfer.runs, with random-init and raw-pixel baselines, into reports/transfer (metrics.json, README.md)."""

from pathlib import Path

import typer

from ganlab.console import run_guarded, setup_logging
from ganlab.eval.transfer import write_transfer_stage
from ganlab.params import load_params


def main(
    params: Path = typer.Option(Path("params.yaml"), help="The params file."),
    data_root: Path = typer.Option(Path("data"), help="CIFAR-10 is read from DATA_ROOT/cifar10, each run's "
                                                       "dataset.json from DATA_ROOT/<dataset>."),
    models_root: Path = typer.Option(None, help="Trained runs are read from MODELS_ROOT/<run>; default "
                                                "DATA_ROOT/models."),
    out: Path = typer.Option(Path("reports/transfer"), help="Output folder: metrics.json and README.md."),
    progress: bool = typer.Option(False, help="Show progress bars (off in the pipeline: logs instead)."),
) -> None:
    setup_logging()
    p = run_guarded(load_params, params)
    run_guarded(write_transfer_stage, p.models, p.transfer, data_root, models_root, out, progress=progress)


if __name__ == "__main__":
    typer.run(main)
