"""Stage claim@<claim>: a paper's claim measured on its study's runs over the seeds, judged by its rule,
written to reports/claims/<claim>.json with its figure."""

from pathlib import Path

import typer

from ganlab.claims.verdict import CLAIMS_DIR, write_claim
from ganlab.console import run_guarded, setup_logging
from ganlab.params import load_params


def main(
    claim: str = typer.Argument(..., help="A registered claim (`ganlab claims` lists them)."),
    params: Path = typer.Option(Path("params.yaml"), help="The params file."),
    data_root: Path = typer.Option(Path("data"), help="Studies are read from DATA_ROOT/studies/<study>."),
    out_dir: Path = typer.Option(Path(CLAIMS_DIR), help="Writes OUT_DIR/<claim>.json and OUT_DIR/<claim>.png."),
) -> None:
    setup_logging()
    p = run_guarded(load_params, params)
    run_guarded(write_claim, p.claims, claim, data_root, out_dir)


if __name__ == "__main__":
    typer.run(main)
