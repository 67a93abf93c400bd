"""Stage code: the manifest of each stage's code (its script and the files its imports reach inside src/ganlab,
with their sha256) in data/code/, the one code dependency of every other stage (ganlab.codedeps)."""

from pathlib import Path

import typer

from ganlab.console import run_guarded, setup_logging
from ganlab.manifests import CODE_DIR, write_manifests


def main(out: Path = typer.Option(Path(CODE_DIR), help="The folder the manifests are written to.")) -> None:
    setup_logging()
    run_guarded(write_manifests, Path.cwd(), out)


if __name__ == "__main__":
    typer.run(main)
