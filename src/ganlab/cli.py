"""The ``ganlab`` command line: one sub-command per pipeline stage, ``--help`` on each."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from ganlab.errors import GanlabError

app = typer.Typer(
    help="ganlab: classic generative models from raw data to a report. "
    "Each sub-command is one step of the DVC pipeline (see dvc.yaml).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

log = logging.getLogger("ganlab")


def setup_logging(verbose: bool = False) -> None:
    """Log ganlab's messages to stderr; progress bars (tqdm) write there too."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages.")) -> None:
    setup_logging(verbose)


def run_guarded(fn, *args, **kwargs):  # noqa: ANN001, ANN201
    """Run ``fn``; turn a GanlabError into one clear line on stderr and exit code 2."""
    try:
        return fn(*args, **kwargs)
    except GanlabError as exc:
        log.error("%s", exc)
        raise typer.Exit(code=2) from None
    except KeyboardInterrupt:
        log.error("interrupted; outputs were left as they were before this run")
        raise typer.Exit(code=130) from None


@app.command()
def fetch(
    dataset: Optional[str] = typer.Argument(None, help="Dataset name; see 'ganlab datasets'."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the dataset into (replaced atomically)."),
    variant: str = typer.Option("auto", help="Which copy: auto, official, or a mirror variant (see 'ganlab datasets')."),
    source: Optional[Path] = typer.Option(
        None, "--from", help="Your own archive (.tar.gz/.zip) or folder of split/class/*.jpg|png, or of photos."
    ),
    name: Optional[str] = typer.Option(None, help="Name for a dataset read with --from."),
    timeout: float = typer.Option(30.0, help="Seconds to wait for a server before giving up."),
    retries: int = typer.Option(3, help="Times to resume a download that broke off."),
    progress: bool = typer.Option(True, help="Show download progress bars."),
) -> None:
    """Fetch a dataset (from GANLAB_DATA_MIRROR, the cache or its official URL) into canonical form."""
    from ganlab.data.fetch import fetch_dataset, fetch_local

    if source is not None:
        if dataset is not None:
            raise typer.BadParameter("give either a DATASET name or --from, not both")
        if name is None:
            raise typer.BadParameter("--from needs --name NAME for the new dataset")
        run_guarded(fetch_local, source, name, out)
    elif dataset is None:
        raise typer.BadParameter("name a DATASET (see 'ganlab datasets') or use --from ARCHIVE_OR_FOLDER")
    else:
        run_guarded(fetch_dataset, dataset, out, variant=variant, timeout=timeout, retries=retries, progress=progress)


@app.command()
def datasets() -> None:
    """List the datasets ganlab can fetch, with their variants."""
    from ganlab.data.sources import DATASETS

    for spec in DATASETS.values():
        typer.echo(f"{spec.name:15s} {spec.description}")
        for v in spec.variants:
            where = "download or mirror" if v.downloadable else "mirror only"
            typer.echo(f"  {v.name:13s} {where}: {v.description}")


@app.command("check-params")
def check_params(path: Path = typer.Argument(Path("params.yaml"), help="The params file to check.")) -> None:
    """Validate params.yaml: unknown keys, wrong types and out-of-range values are errors."""
    from ganlab.params import load_params

    run_guarded(load_params, path)
    typer.echo(f"{path}: ok")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
