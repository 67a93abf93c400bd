"""Stage metrics-table: every metrics@<run> result in one table (reports/metrics/table.json, the DVC
metrics; reports/metrics/README.md, grouped by protocol, published numbers apart)."""

from pathlib import Path

import typer

from ganlab.console import run_guarded, setup_logging
from ganlab.params import load_params
from ganlab.report.metrics import write_metrics_table


def main(
    runs_dir: Path = typer.Argument(..., help="Folder of <run>.json files written by metrics@<run>."),
    real: Path = typer.Option(None, help="Folder of <dataset>.json: the real held-out images' metrics "
                              "(reference@<dataset>)."),
    out: Path = typer.Option(Path("reports/metrics"), help="Writes OUT/table.json and OUT/README.md."),
    params: Path = typer.Option(Path("params.yaml"), help="The params file: the table holds the runs under "
                                "metrics.runs and the datasets under metrics.references, nothing else."),
) -> None:
    setup_logging()
    m = run_guarded(load_params, params).metrics
    run_guarded(write_metrics_table, runs_dir, out, real, list(m.runs), list(m.references))


if __name__ == "__main__":
    typer.run(main)
