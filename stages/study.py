"""Stage study@<study>: every run of claims.studies.<study> trained once per seed of claims.seeds."""

from pathlib import Path

import typer

from ganlab.claims.study import STUDIES, run_study
from ganlab.console import run_guarded, setup_logging
from ganlab.params import load_params


def main(
    study: str = typer.Argument(..., help="A study named under claims.studies in params.yaml."),
    params: Path = typer.Option(Path("params.yaml"), help="The params file."),
    data_root: Path = typer.Option(Path("data"), help="Datasets are read from DATA_ROOT/<dataset>."),
    out: Path = typer.Option(None, help="Output folder; default DATA_ROOT/studies/<study>."),
) -> None:
    setup_logging()
    p = run_guarded(load_params, params)
    run_guarded(run_study, p.claims, study, data_root, out or data_root / STUDIES / study)


if __name__ == "__main__":
    typer.run(main)
