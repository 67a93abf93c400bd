"""Stage oracle: SeqGAN's synthetic oracle LSTM and its training sequences (params oracle:) into data/oracle."""

from pathlib import Path

import typer

from ganlab.console import run_guarded, setup_logging
from ganlab.data.oracle import write_oracle
from ganlab.params import load_params


def main(
    out: Path = typer.Option(Path("data/oracle"), help="Dataset folder to write."),
    params: Path = typer.Option(Path("params.yaml"), help="The params file (section oracle:)."),
) -> None:
    setup_logging()
    p = run_guarded(load_params, params)
    run_guarded(write_oracle, p.oracle, out)


if __name__ == "__main__":
    typer.run(main)
