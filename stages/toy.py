"""Stage toy: the toy datasets, each from its params section: the 1-D Gaussian of the GAN paper (toy:) into
data/toy-gaussian, the 2-D ring and grid of the mode-collapse papers (toy2d:) into data/toy-ring, data/toy-grid."""

from pathlib import Path

import typer

from ganlab.console import run_guarded, setup_logging
from ganlab.data.toy import write_toy
from ganlab.data.toy2d import GRID, RING, write_toy2d
from ganlab.params import load_params


def main(
    out: Path = typer.Option(Path("data/toy-gaussian"), help="Dataset folder of the 1-D toy."),
    ring: Path = typer.Option(Path("data/toy-ring"), help="Dataset folder of the 2-D ring."),
    grid: Path = typer.Option(Path("data/toy-grid"), help="Dataset folder of the 2-D grid."),
    params: Path = typer.Option(Path("params.yaml"), help="The params file (sections toy:, toy2d: and seed:)."),
) -> None:
    setup_logging()
    p = run_guarded(load_params, params)
    run_guarded(write_toy, p.toy, out, seed=p.seed)
    run_guarded(write_toy2d, RING, p.toy2d.ring, p.toy2d.protocol, ring, seed=p.seed)
    run_guarded(write_toy2d, GRID, p.toy2d.grid, p.toy2d.protocol, grid, seed=p.seed)


if __name__ == "__main__":
    typer.run(main)
