"""Stage metrics@<run>: IS, FID, KID, precision/recall (and class accuracy, memorisation, Parzen)
of a run's generator against its dataset's reference, with the protocol, in reports/metrics/runs/<run>.json."""

from pathlib import Path

import typer

from ganlab.console import run_guarded, setup_logging
from ganlab.eval.pipeline import write_metrics_stage
from ganlab.params import load_params
from ganlab.runs import models_root


def main(
    run: str = typer.Argument(..., help="A run named under metrics.runs in params.yaml."),
    params: Path = typer.Option(Path("params.yaml"), help="The params file."),
    data_root: Path = typer.Option(Path("data"), help="Datasets, models/<run> and references/<dataset> are read "
                                   "from DATA_ROOT."),
    out_dir: Path = typer.Option(Path("reports/metrics"), help="Writes OUT_DIR/runs/<run>.json and "
                                 "OUT_DIR/nearest/<run>.png."),
) -> None:
    setup_logging()
    p = run_guarded(load_params, params)
    run_guarded(write_metrics_stage, p.metrics, p.dedup, run, data_root, models_root(data_root), data_root / "references",
                out_dir / "runs" / f"{run}.json", out_dir / "nearest" / f"{run}.png")


if __name__ == "__main__":
    typer.run(main)
