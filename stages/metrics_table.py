"""Stage metrics-table: every metrics@<run> result in one table (reports/metrics/table.json, the DVC
metrics; reports/metrics/README.md, grouped by protocol, published numbers apart)."""

from pathlib import Path

import typer

from ganlab.cli import run_guarded, setup_logging
from ganlab.report.metrics import write_metrics_table


def main(
    runs_dir: Path = typer.Argument(..., help="Folder of <run>.json files written by metrics@<run>."),
    real: Path = typer.Option(None, help="Folder of <dataset>.json: the real held-out images' metrics "
                              "(reference@<dataset>)."),
    out: Path = typer.Option(Path("reports/metrics"), help="Writes OUT/table.json and OUT/README.md."),
) -> None:
    setup_logging()
    run_guarded(write_metrics_table, runs_dir, out, real)


if __name__ == "__main__":
    typer.run(main)
