"""Stage faces: crop every face in the photos dataset (default data/lfw) into data/face-crops."""

from pathlib import Path

import typer

from ganlab.console import run_guarded, setup_logging
from ganlab.data.faces import crop_faces
from ganlab.params import load_params


def main(
    photos: Path = typer.Argument(Path("data/lfw"), help="A photo dataset, folder or archive."),
    out: Path = typer.Option(Path("data/face-crops"), help="Dataset folder to write."),
    params: Path = typer.Option(Path("params.yaml"), help="The params file (section faces:)."),
) -> None:
    setup_logging()
    p = run_guarded(load_params, params)
    run_guarded(crop_faces, photos, out, p.faces, progress=False)


if __name__ == "__main__":
    typer.run(main)
