"""Stage domains: the unpaired two-domain dataset of the translation models (params domains:) into data/domains."""

from pathlib import Path

import typer

from ganlab.console import run_guarded, setup_logging
from ganlab.data.domains import build_domains
from ganlab.params import load_params


def main(
    data_root: Path = typer.Option(Path("data"), help="Folder holding the fetched source datasets (data/<name>)."),
    out: Path = typer.Option(Path("data/domains"), help="Dataset folder to write."),
    params: Path = typer.Option(Path("params.yaml"), help="The params file (sections domains: and seed:)."),
) -> None:
    setup_logging()
    p = run_guarded(load_params, params)
    run_guarded(build_domains, p.domains, data_root, out, seed=p.seed)


if __name__ == "__main__":
    typer.run(main)
