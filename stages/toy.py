"""Stage toy: the 1-D Gaussian toy data of the GAN paper (params toy:) into data/toy-gaussian."""

from pathlib import Path

import typer

from ganlab.console import run_guarded, setup_logging
from ganlab.data.toy import write_toy
from ganlab.params import load_params


def main(
    out: Path = typer.Option(Path("data/toy-gaussian"), help="Dataset folder to write."),
    params: Path = typer.Option(Path("params.yaml"), help="The params file (sections toy: and seed:)."),
) -> None:
    setup_logging()
    p = run_guarded(load_params, params)
    run_guarded(write_toy, p.toy, out, seed=p.seed)


if __name__ == "__main__":
    typer.run(main)
